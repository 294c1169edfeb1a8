// SPDX-License-Identifier: GPL-2.0
/*
 * oops_line - an Oops at a known source line, a fixture for labctl's tests
 *
 * Loading it creates /dev/oops_line (mode 0600).  Any write to it stores
 * through a NULL pointer in oops_line_store(), which is always inlined into
 * oops_line_write(): the kernel reports the Oops at
 * oops_line_write+0x.../0x... [oops_line], and labctl resolves that frame
 * to the store's line, inlined into the line of the call.  The tests find
 * both lines by the comments on them.  Never load it anywhere but a
 * throw-away VM, and write to it from a child process, never from PID 1.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

/* Always NULL; read through READ_ONCE so the compiler cannot see that. */
static int *oops_line_ptr;

static __always_inline void oops_line_store(int value)
{
	WRITE_ONCE(*READ_ONCE(oops_line_ptr), value); /* oops_line: the store */
}

static ssize_t oops_line_write(struct file *file, const char __user *buf,
			       size_t count, loff_t *ppos)
{
	pr_info("storing through a NULL pointer\n");
	oops_line_store((int)count); /* oops_line: the call */
	return count;
}

static const struct file_operations oops_line_fops = {
	.owner	= THIS_MODULE,
	.write	= oops_line_write,
	.llseek	= noop_llseek,
};

static struct miscdevice oops_line_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "oops_line",
	.fops	= &oops_line_fops,
	.mode	= 0600,
};

module_misc_device(oops_line_misc);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("labctl authors");
MODULE_DESCRIPTION("An Oops at a known line (symbolizer fixture)");
