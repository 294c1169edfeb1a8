// SPDX-License-Identifier: GPL-2.0
/*
 * stack_client - uses a symbol exported by ../stack_bus (labctl fixture)
 */
#include <linux/module.h>

int stack_bus_register(const char *name);

static int __init stack_client_init(void)
{
	return stack_bus_register("stack_client");
}

static void __exit stack_client_exit(void)
{
}

module_init(stack_client_init);
module_exit(stack_client_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Client half of a module stack across folders (fixture)");
