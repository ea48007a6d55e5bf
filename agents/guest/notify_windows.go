//go:build windows

package guest

import (
	"fmt"
	"log/slog"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// guidVioserialPort is the device interface class of vioserial's ports
// (GUID_VIOSERIAL_PORT in virtio-win's vioserial/sys/public.h).
var guidVioserialPort = windows.GUID{
	Data1: 0x6fde7521, Data2: 0x1b65, Data3: 0x48ae,
	Data4: [8]byte{0xb6, 0x28, 0x80, 0xbe, 0x62, 0x01, 0x60, 0x26},
}

// cmNotifyFilter is cfgmgr32's CM_NOTIFY_FILTER for
// CM_NOTIFY_FILTER_TYPE_DEVICEINTERFACE (0): its union is as large as its
// largest member, WCHAR InstanceId[MAX_DEVICE_ID_LEN = 200].
type cmNotifyFilter struct {
	size       uint32
	flags      uint32
	filterType uint32
	reserved   uint32
	classGUID  windows.GUID
	_          [400 - unsafe.Sizeof(windows.GUID{})]byte
}

// cmNotifyActionArrival is CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL.
const cmNotifyActionArrival = 0

// portArrivals asks Windows to say when a vioserial port appears
// (CM_Register_Notification), so that an agent waiting for its port opens
// it then rather than at its next retry. It returns the channel that says
// so and the function that ends the registration; a nil channel when the
// system cannot (before Windows 8, Wine), and the back-off alone waits.
func portArrivals(log *slog.Logger) (<-chan struct{}, func()) {
	cfgmgr := windows.NewLazySystemDLL("cfgmgr32.dll")
	register := cfgmgr.NewProc("CM_Register_Notification")
	unregister := cfgmgr.NewProc("CM_Unregister_Notification")
	if register.Find() != nil || unregister.Find() != nil {
		log.Debug("no device notifications here: the port is looked for at each retry")
		return nil, func() {}
	}
	arrived := make(chan struct{}, 1)
	// Called on a thread of the system's pool: it must not block.
	cb := syscall.NewCallback(func(_, _, action, _, _ uintptr) uintptr {
		if action == cmNotifyActionArrival {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
		return 0 // ERROR_SUCCESS
	})
	filter := &cmNotifyFilter{classGUID: guidVioserialPort}
	filter.size = uint32(unsafe.Sizeof(*filter))
	var h uintptr
	if cr, _, _ := register.Call(uintptr(unsafe.Pointer(filter)), 0, cb, uintptr(unsafe.Pointer(&h))); cr != 0 {
		log.Debug("no device notifications: the port is looked for at each retry", "err", fmt.Sprintf("CONFIGRET %d", cr))
		return nil, func() {}
	}
	return arrived, func() { unregister.Call(h) }
}
