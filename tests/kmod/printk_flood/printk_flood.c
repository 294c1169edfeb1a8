// SPDX-License-Identifier: GPL-2.0
/*
 * printk_flood - prints many numbered lines in its init (labctl test fixture)
 *
 * Loading it prints "printk_flood: line 1 of 30000" to "printk_flood: line 30000 of 30000"
 * (the count is the "lines" parameter), more than the kernel's ring buffer holds: a
 * /dev/kmsg reader that is not fast enough loses records while the console prints them
 * all. labctl's kernel log must still have every line.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/printk.h>

static unsigned int lines = 30000;
module_param(lines, uint, 0444);
MODULE_PARM_DESC(lines, "How many lines to print (default 30000)");

static int __init printk_flood_init(void)
{
	unsigned int i;

	/*
	 * No cond_resched(): the /dev/kmsg reader gets no CPU until the loop
	 * ends, as with a driver that logs from a tight loop.
	 */
	for (i = 1; i <= lines; i++)
		pr_info("line %u of %u\n", i, lines);
	return 0;
}

static void __exit printk_flood_exit(void)
{
}

module_init(printk_flood_init);
module_exit(printk_flood_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Prints many lines at init (fixture)");
