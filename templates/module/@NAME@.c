// SPDX-License-Identifier: GPL-2.0
/*
 * @NAME@ - a character device that keeps what was last written to it
 *
 * Loading this module creates /dev/@NAME@ (misc device, mode 0666):
 *
 *	echo hello > /dev/@NAME@
 *	cat /dev/@NAME@
 *
 * A write at offset 0 replaces the stored bytes, a read returns them. It
 * keeps at most BUFFER_SIZE bytes: a write past them fails with ENOSPC.
 *
 * Made by "labctl new"; "labctl run @NAME@.json" builds it, boots it in
 * QEMU and checks it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>

#define BUFFER_SIZE	4096

/* Serializes readers and writers of the buffer and its length. */
static DEFINE_MUTEX(lock);
static char buffer[BUFFER_SIZE];
static size_t length;

static ssize_t keeper_read(struct file *file, char __user *buf,
			   size_t count, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&lock);
	ret = simple_read_from_buffer(buf, count, ppos, buffer, length);
	mutex_unlock(&lock);
	return ret;
}

static ssize_t keeper_write(struct file *file, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	ssize_t ret;

	if (count && *ppos >= BUFFER_SIZE)
		return -ENOSPC;

	mutex_lock(&lock);
	ret = simple_write_to_buffer(buffer, BUFFER_SIZE, ppos, buf, count);
	if (ret > 0)
		length = *ppos;
	mutex_unlock(&lock);
	return ret;
}

static const struct file_operations keeper_fops = {
	.owner	= THIS_MODULE,
	.read	= keeper_read,
	.write	= keeper_write,
	.llseek	= default_llseek,
};

static struct miscdevice keeper_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "@NAME@",
	.fops	= &keeper_fops,
	.mode	= 0666,
};

static int __init keeper_init(void)
{
	int ret;

	ret = misc_register(&keeper_misc);
	if (ret) {
		pr_err("misc_register failed: %d\n", ret);
		return ret;
	}
	pr_info("/dev/%s ready\n", keeper_misc.name);
	return 0;
}

static void __exit keeper_exit(void)
{
	misc_deregister(&keeper_misc);
	pr_info("unloaded\n");
}

module_init(keeper_init);
module_exit(keeper_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("@NAME@: a character device that keeps what was written to it");
