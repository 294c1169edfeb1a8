// SPDX-License-Identifier: GPL-2.0
/*
 * dkms_alpha: the first module of labctl's two-folder DKMS fixture. It exports
 * dkms_alpha_value(), which dkms_beta (built from the other folder) calls.
 */
#include <linux/module.h>

int dkms_alpha_value(void)
{
	return 42;
}
EXPORT_SYMBOL_GPL(dkms_alpha_value);

static int __init dkms_alpha_init(void)
{
	pr_info("dkms_alpha: loaded\n");
	return 0;
}

static void __exit dkms_alpha_exit(void)
{
}

module_init(dkms_alpha_init);
module_exit(dkms_alpha_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("labctl DKMS fixture: exports a value");
