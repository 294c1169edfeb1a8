// SPDX-License-Identifier: GPL-2.0
/*
 * pwd_include - includes a header from ../include (labctl test fixture)
 *
 * The header is only found when kbuild sees this folder's PWD.
 */
#include <linux/module.h>
#include "pwd_include.h"

static int __init pwd_include_init(void)
{
	pr_info("%s\n", PWD_INCLUDE_GREETING);
	return 0;
}

static void __exit pwd_include_exit(void)
{
}

module_init(pwd_include_init);
module_exit(pwd_include_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Header through $(PWD)/../include (fixture)");
