// The emulator has no CUDA headers: emu.h (included first) defines __nv_bfloat16 and its conversions.
#pragma once
