// SPDX-License-Identifier: GPL-2.0
/*
 * broken - a module that deliberately does not compile (labctl test fixture)
 *
 * Line 12 uses an undeclared identifier; labctl's compile-error reporting
 * is expected to point at broken.c:12.
 */
#include <linux/module.h>

static int __init broken_init(void)
{
	int ret = labctl_no_such_symbol; /* line 12: deliberate compile error */

	return ret;
}

static void __exit broken_exit(void)
{
}

module_init(broken_init);
module_exit(broken_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("labctl authors");
MODULE_DESCRIPTION("Deliberately broken module (compile-error fixture)");
