// SPDX-License-Identifier: GPL-2.0
/*
 * old_class_api - a module written for kernels before 6.4 (labctl test fixture)
 *
 * class_create() lost its owner argument in 6.4: this builds and loads on 6.1 and fails
 * to compile on 6.12 at line 15, where labctl's report is expected to point.
 */
#include <linux/device.h>
#include <linux/module.h>

static struct class *old_class;

static int __init old_class_api_init(void)
{
	old_class = class_create(THIS_MODULE, "labctl_old_api"); /* 2 arguments before 6.4 */
	if (IS_ERR(old_class))
		return PTR_ERR(old_class);
	pr_info("old_class_api: class ready\n");
	return 0;
}

static void __exit old_class_api_exit(void)
{
	class_destroy(old_class);
}

module_init(old_class_api_init);
module_exit(old_class_api_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("labctl authors");
MODULE_DESCRIPTION("Uses the pre-6.4 class_create(owner, name) (kernel matrix fixture)");
