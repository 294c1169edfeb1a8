// SPDX-License-Identifier: GPL-2.0
/*
 * warning - builds, with one compiler warning (labctl test fixture)
 *
 * Line 12 declares a variable it never uses (-Wunused-variable).
 */
#include <linux/module.h>

static int __init warning_init(void)
{
	int ret = 0;
	int labctl_unused; /* line 12: deliberate warning */

	return ret;
}

static void __exit warning_exit(void)
{
}

module_init(warning_init);
module_exit(warning_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Builds with a warning (fixture)");
