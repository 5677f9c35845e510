/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the trustvisor hypapp answers in EAX/RAX besides 0 (TV_OK). The
 * high byte says which check failed, the low byte which way:
 *   TV_ERR_REQUEST | enum pal_req_status   the registration request (pal_req.h)
 *   TV_ERR_TABLE   | enum reg_status       the PAL table (registry.h)
 *   TV_ERR_WALK    | enum gpt_status       a guest page-table walk (gpt.h)
 *   TV_ERR_MARSHAL | enum marshal_status   PAL entry or exit (marshal.h),
 *                                          returned to the PAL's caller
 * and the single codes below. A number that is no TrustVisor hypercall
 * gets -1 from the hypervisor core.
 */
#ifndef HYPAPPS_TRUSTVISOR_TRUSTVISOR_H
#define HYPAPPS_TRUSTVISOR_TRUSTVISOR_H

#define TV_OK 0x000U
#define TV_ERR_REQUEST 0x100U
#define TV_ERR_TABLE 0x200U
#define TV_ERR_WALK 0x300U
#define TV_ERR_MARSHAL 0x400U
#define TV_ERR_NOMEM 0x501U    /* out of pages for PAL page tables */
#define TV_ERR_IN_PAL 0x502U   /* a hypercall from inside a PAL */
#define TV_ERR_MODE 0x503U     /* the caller runs without paging */
#define TV_ERR_BUSY 0x504U     /* the PAL runs on another CPU: this call did not run it */
#define TV_ERR_PAL_FAULT 0x505U /* the PAL faulted or left its sections: it was ended */
#define TV_ERR_NOT_RAM 0x506U  /* a section page is not ordinary guest memory */
#define TV_ERR_EPT 0x507U      /* a section page is not plainly mapped (device, hidden) */

#endif /* HYPAPPS_TRUSTVISOR_TRUSTVISOR_H */
