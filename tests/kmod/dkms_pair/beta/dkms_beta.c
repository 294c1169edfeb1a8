// SPDX-License-Identifier: GPL-2.0
/*
 * dkms_beta: the second module of labctl's two-folder DKMS fixture. It calls
 * dkms_alpha_value() from dkms_alpha, so it loads only after it.
 */
#include <linux/module.h>

int dkms_alpha_value(void);

static int __init dkms_beta_init(void)
{
	pr_info("dkms_beta: alpha says %d\n", dkms_alpha_value());
	return 0;
}

static void __exit dkms_beta_exit(void)
{
}

module_init(dkms_beta_init);
module_exit(dkms_beta_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("labctl DKMS fixture: unpatched");
