package vmctl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The ioctls of the KVM API (linux/kvm.h) that the probe needs. x/sys/unix
// does not define them; their numbers are part of the kernel's ABI.
const (
	kvmGetAPIVersion       = 0xae00
	kvmCreateVM            = 0xae01
	kvmGetVCPUMmapSize     = 0xae04
	kvmCreateVCPU          = 0xae41
	kvmSetUserMemoryRegion = 0x4020ae46 // _IOW(0xae, 0x46, 32 bytes)
	kvmRun                 = 0xae80
	kvmSetRegs             = 0x4090ae82 // _IOW(0xae, 0x82, 144 bytes)
	kvmGetSregs            = 0x8138ae83 // _IOR(0xae, 0x83, 312 bytes)
	kvmSetSregs            = 0x4138ae84 // _IOW(0xae, 0x84, 312 bytes)

	kvmAPIVersion = 12 // the only version there has ever been
	kvmExitHLT    = 5
	kvmExitIntr   = 10
)

// The probe guest: 2 MiB of memory, identity-mapped by one large page.
const (
	probeMemSize = 2 << 20
	probePML4    = 0x1000
	probePDPT    = 0x2000
	probePD      = 0x3000
	probeCode    = 0x4000
	probeMark    = 0x5000 // the byte the guest writes, read back after
	probeValue   = 0x2a

	pteP, pteRW, ptePS = 1 << 0, 1 << 1, 1 << 7

	cr0PE, cr0MP, cr0ET, cr0NE = 1 << 0, 1 << 1, 1 << 4, 1 << 5
	cr0WP, cr0AM, cr0PG        = 1 << 16, 1 << 18, 1 << 31
	cr4PAE                     = 1 << 5
	eferLME, eferLMA           = 1 << 8, 1 << 10
)

// probeProgram is the guest: a counted loop, then a store, then hlt. The
// loop measures speed (a host may offer a KVM that emulates guest code, a
// thousand times slower than hardware and slower than QEMU's own TCG), the
// store proves that the guest ran through its page tables, the hlt gives
// the exit the probe waits for.
var probeProgram = [...]byte{
	0xb9, 0x90, 0xd0, 0x03, 0x00, // mov ecx, probeLoops
	0xff, 0xc9, // loop: dec ecx
	0x75, 0xfc, // jnz loop
	0xc6, 0x04, 0x25, 0x00, 0x50, 0x00, 0x00, probeValue, // mov byte [probeMark], probeValue
	0xf4, // hlt
}

const (
	// probeLoops is the loop count in probeProgram: half a million
	// instructions, well under a millisecond on hardware.
	probeLoops = 250_000
	// probeSlow is the time beyond which KVM is no better than TCG,
	// which runs such a loop in a few milliseconds.
	probeSlow = 50 * time.Millisecond
	// probeGrace is how long an interrupted vCPU may take to leave
	// KVM_RUN: a signal gets it out at once on any working kernel.
	probeGrace = 100 * time.Millisecond
)

// kvmUserspaceMemoryRegion is struct kvm_userspace_memory_region.
type kvmUserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// kvmRegs is struct kvm_regs (x86).
type kvmRegs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

// kvmSegment is struct kvm_segment.
type kvmSegment struct {
	Base                         uint64
	Limit                        uint32
	Selector                     uint16
	Type, Present, DPL, DB, S, L uint8
	G, AVL, Unusable, Padding    uint8
}

// kvmDtable is struct kvm_dtable.
type kvmDtable struct {
	Base    uint64
	Limit   uint16
	Padding [3]uint16
}

// kvmSregs is struct kvm_sregs (x86).
type kvmSregs struct {
	CS, DS, ES, FS, GS, SS, TR, LDT kvmSegment
	GDT, IDT                        kvmDtable
	CR0, CR2, CR3, CR4, CR8         uint64
	EFER, APICBase                  uint64
	InterruptBitmap                 [4]uint64
}

// ProbeTimeout bounds KVMUsable when its context has no earlier deadline:
// a working KVM runs the probe's guest in well under a millisecond.
const ProbeTimeout = 2 * time.Second

// KVMUsable says whether KVM can really run a guest here, and why not.
// /dev/kvm being there is not enough: a nested or paravirtualised host may
// offer it and still fail to run a guest. So it runs a tiny 64-bit guest
// (a store through its page tables, then hlt) and expects KVM to report
// the halt with the byte stored. A probe that does not come back in time
// counts as unusable.
func KVMUsable(ctx context.Context) (bool, string) {
	return KVMUsableAt(ctx, "/dev/kvm")
}

// KVMUsableAt is KVMUsable with the KVM device at path (spirit doctor's
// tests point it elsewhere).
func KVMUsableAt(ctx context.Context, path string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	if err := probeKVM(ctx, path); err != nil {
		return false, err.Error()
	}
	return true, path + " ran a test guest"
}

// probeKVM runs the probe's guest through the device at path.
func probeKVM(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	kvm := int(f.Fd())
	v, err := unix.IoctlRetInt(kvm, kvmGetAPIVersion)
	if err != nil {
		return fmt.Errorf("%s: KVM_GET_API_VERSION: %w", path, err)
	}
	if v != kvmAPIVersion {
		return fmt.Errorf("%s: KVM API version %d, want %d", path, v, kvmAPIVersion)
	}
	vm, err := unix.IoctlRetInt(kvm, kvmCreateVM)
	if err != nil {
		return fmt.Errorf("%s: KVM_CREATE_VM: %w", path, err)
	}
	// The vCPU keeps the VM alive in the kernel: closing this fd early
	// is safe even while a timed-out run goes on.
	defer unix.Close(vm)
	mem, err := probeMemory()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	region := kvmUserspaceMemoryRegion{
		MemorySize:    uint64(len(mem)),
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))),
	}
	if err := ioctlPtr(vm, kvmSetUserMemoryRegion, unsafe.Pointer(&region)); err != nil {
		unix.Munmap(mem)
		return fmt.Errorf("%s: KVM_SET_USER_MEMORY_REGION: %w", path, err)
	}
	if err := runProbeVCPU(ctx, kvm, vm, mem); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// probeMemory maps the guest's memory, with its page tables and program.
// It is outside Go's heap because the kernel holds on to it.
func probeMemory() ([]byte, error) {
	mem, err := unix.Mmap(-1, 0, probeMemSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("map the test guest's memory: %w", err)
	}
	le := binary.LittleEndian
	le.PutUint64(mem[probePML4:], probePDPT|pteP|pteRW)
	le.PutUint64(mem[probePDPT:], probePD|pteP|pteRW)
	le.PutUint64(mem[probePD:], 0|pteP|pteRW|ptePS)
	copy(mem[probeCode:], probeProgram[:])
	return mem, nil
}

// runProbeVCPU creates the vCPU, sets it up and runs it. From here on the
// vCPU's goroutine owns mem.
func runProbeVCPU(ctx context.Context, kvm, vm int, mem []byte) error {
	cpu, err := unix.IoctlRetInt(vm, kvmCreateVCPU)
	if err != nil {
		unix.Munmap(mem)
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	size, err := unix.IoctlRetInt(kvm, kvmGetVCPUMmapSize)
	if err != nil {
		unix.Close(cpu)
		unix.Munmap(mem)
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	run, err := unix.Mmap(cpu, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(cpu)
		unix.Munmap(mem)
		return fmt.Errorf("map the vCPU's run area: %w", err)
	}
	p := &probeRun{cpu: cpu, run: run, mem: mem, done: make(chan error, 1)}
	if err := p.longMode(); err != nil {
		p.release()
		return err
	}
	go p.loop()
	return p.wait(ctx)
}

// probeRun is one vCPU run of the probe. Its goroutine owns the vCPU and
// the mappings and releases them when KVM_RUN is done.
type probeRun struct {
	cpu  int
	run  []byte // struct kvm_run, shared with the kernel
	mem  []byte
	tid  atomic.Int32 // the thread inside KVM_RUN, for the interrupting signal
	stop atomic.Bool
	done chan error

	mu       sync.Mutex
	released bool // guarded by mu: run, mem and cpu are gone
}

// longMode puts the vCPU straight into 64-bit mode with paging at the
// probe's code: every guest worth booting runs there, and a host that only
// manages real mode (some paravirtualised KVMs do) cannot boot one.
func (p *probeRun) longMode() error {
	var s kvmSregs
	if err := ioctlPtr(p.cpu, kvmGetSregs, unsafe.Pointer(&s)); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	code := kvmSegment{Limit: 0xffffffff, Selector: 1 << 3, Type: 11, Present: 1, S: 1, L: 1, G: 1}
	data := code
	data.Selector, data.Type, data.L = 2<<3, 3, 0
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.CR3 = probePML4
	s.CR4 = cr4PAE
	s.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0AM | cr0PG
	s.EFER = eferLME | eferLMA
	if err := ioctlPtr(p.cpu, kvmSetSregs, unsafe.Pointer(&s)); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	r := kvmRegs{RIP: probeCode, RSP: probeMemSize, RFLAGS: 0x2} // bit 1 of RFLAGS is always set
	if err := ioctlPtr(p.cpu, kvmSetRegs, unsafe.Pointer(&r)); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}

// loop runs the vCPU until it exits for a reason other than a signal.
// Go's runtime signals its threads (preemption), so EINTR is routine.
func (p *probeRun) loop() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p.tid.Store(int32(unix.Gettid()))
	defer p.release()
	start := time.Now()
	for !p.stop.Load() {
		err := ioctlPtr(p.cpu, kvmRun, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.done <- fmt.Errorf("KVM_RUN: %w", err)
			return
		}
		reason := exitReason(p.run)
		if reason == kvmExitIntr {
			continue
		}
		p.done <- p.check(reason, time.Since(start))
		return
	}
	p.done <- errors.New("stopped")
}

// check says whether the guest ran to its hlt fast enough.
func (p *probeRun) check(reason uint32, took time.Duration) error {
	if reason != kvmExitHLT {
		return fmt.Errorf("KVM_RUN: the test guest exited with reason %d, want %d (KVM_EXIT_HLT)", reason, kvmExitHLT)
	}
	if p.mem[probeMark] != probeValue {
		return errors.New("KVM_RUN: the test guest halted without running its program")
	}
	if took > probeSlow {
		return fmt.Errorf("the test guest ran %d instructions in %v (hardware takes under 1ms, TCG a few ms): KVM here is slower than TCG (a nested or paravirtualised KVM?)",
			2*probeLoops, took.Round(time.Millisecond))
	}
	return nil
}

// exitReason reads kvm_run.exit_reason, at offset 8 on every
// architecture.
func exitReason(run []byte) uint32 {
	return *(*uint32)(unsafe.Pointer(&run[8]))
}

// wait waits for the run or for ctx. On ctx it asks the vCPU to leave
// (immediate_exit, then a signal to its thread so that a running KVM_RUN
// returns) and waits a moment more for the goroutine to release the vCPU.
// It asks again and again: a signal sent just before the thread enters
// KVM_RUN is taken by Go's handler and lost to KVM. A kernel that never
// gives the thread back makes it leak, which is still better than a
// caller that hangs.
func (p *probeRun) wait(ctx context.Context) error {
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
	}
	grace := time.After(probeGrace)
	again := time.NewTicker(probeGrace / 10)
	defer again.Stop()
	for {
		p.interrupt()
		select {
		case <-p.done:
			return fmt.Errorf("the test guest did not halt in time (%w)", context.Cause(ctx))
		case <-grace:
			return fmt.Errorf("the test guest did not halt in time (%w), and its vCPU thread did not stop when told to", context.Cause(ctx))
		case <-again.C:
		}
	}
}

// interrupt makes a running or next KVM_RUN return.
func (p *probeRun) interrupt() {
	p.stop.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.released {
		return
	}
	p.run[1] = 1 // kvm_run.immediate_exit
	if tid := p.tid.Load(); tid != 0 {
		// SIGURG is the signal Go's runtime already uses to preempt:
		// it is harmless to every thread.
		_ = unix.Tgkill(os.Getpid(), int(tid), unix.SIGURG)
	}
}

func (p *probeRun) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.released = true
	unix.Munmap(p.run)
	unix.Close(p.cpu)
	unix.Munmap(p.mem)
}

// ioctlPtr is an ioctl whose argument is a pointer (or none).
func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}
