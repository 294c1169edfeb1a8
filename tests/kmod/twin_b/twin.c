// SPDX-License-Identifier: GPL-2.0
/*
 * twin - twin_a and twin_b both build a module named twin (labctl fixture):
 * a scenario listing both folders is refused before anything boots.
 */
#include <linux/module.h>

static int __init twin_init(void)
{
	pr_info("twin: folder b\n");
	return 0;
}

static void __exit twin_exit(void)
{
}

module_init(twin_init);
module_exit(twin_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("One of two modules named twin (fixture)");
