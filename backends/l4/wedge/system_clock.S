/*
 * The SystemClock system call through the kernel's amd64 stub (l4_abi.h, kip_system_clock):
 * microseconds in %rax; the stub clobbers everything else but %rsp.
 *
 * uint64_t l4_system_clock(uint64_t entry)
 */
#include "stub_macros.h"

	.text
	.globl l4_system_clock
	.type l4_system_clock, @function
l4_system_clock:
	save_callee_saved
	call	*%rdi
	restore_callee_saved
	ret
	.size l4_system_clock, . - l4_system_clock
