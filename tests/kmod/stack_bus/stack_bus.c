// SPDX-License-Identifier: GPL-2.0
/*
 * stack_bus - a library module another folder links against (labctl fixture)
 *
 * Exports stack_bus_register(); stack_client (../stack_client) calls it, so
 * its modpost needs this folder's Module.symvers (KBUILD_EXTRA_SYMBOLS).
 */
#include <linux/module.h>

int stack_bus_register(const char *name)
{
	pr_info("stack_bus: registered %s\n", name);
	return 0;
}
EXPORT_SYMBOL_GPL(stack_bus_register);

static int __init stack_bus_init(void)
{
	pr_info("stack_bus: up\n");
	return 0;
}

static void __exit stack_bus_exit(void)
{
}

module_init(stack_bus_init);
module_exit(stack_bus_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Bus half of a module stack across folders (fixture)");
