// The Linux UAPI headers for /dev/xen/* (linux-libc-dev) use Xen's grant_ref_t and domid_t without
// defining them; Xen defines them as uint32_t and uint16_t (xen/grant_table.h, xen/xen.h).
#pragma once
#include <linux/ioctl.h>
#include <linux/types.h>
typedef __u32 grant_ref_t;
typedef __u16 domid_t;
extern "C" {
#include <xen/evtchn.h>
#include <xen/gntalloc.h>
#include <xen/gntdev.h>
}
