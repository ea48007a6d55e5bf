/*
 * bcryptprimitives.dll for Wine 8.0, which lacks ProcessPrng: Go 1.24 and
 * later call it at start and die without it. Built by the Wine test lane
 * with mingw-w64 into the lane's own Wine prefix; never shipped.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
