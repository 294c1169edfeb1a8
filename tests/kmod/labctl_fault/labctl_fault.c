// SPDX-License-Identifier: GPL-2.0
/*
 * labctl_fault - a deliberately faulty module, a fixture for labctl's tests
 *
 * It exists only to make the kernel fail on purpose, so that labctl's fault
 * detection (Oops, BUG, WARNING, printk storms, lockups) can be exercised and
 * so that real console logs can be recorded for the scanner's unit tests.
 * Never load it anywhere but a throw-away VM.
 *
 * Loading it creates /dev/labctl_fault (mode 0600).  Writing a command word
 * to it (a trailing newline is ignored) does:
 *
 *	oops      NULL pointer dereference in labctl_fault_write(): an Oops in
 *	          process context; the writing process is killed
 *	warn      WARN(1, ...): a WARNING with a backtrace; the write succeeds
 *	bug       BUG(): a "kernel BUG at" report; the writer is killed
 *	flood     2000 pr_info() lines in a row
 *	lockup    spin for 50 s with preemption disabled: an RCU stall report
 *	          (after ~21 s) and a soft lockup report (after ~44 s)
 *
 * Anything else fails with EINVAL.  Run the fatal ones from a child process,
 * e.g. sh -c 'echo oops > /dev/labctl_fault', never from PID 1.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define LABCTL_FAULT_FLOOD_LINES	2000
#define LABCTL_FAULT_LOCKUP_SECS	50

/* Always NULL; read through READ_ONCE so the compiler cannot see that. */
static int *labctl_fault_ptr;

static void labctl_fault_flood(void)
{
	int i;

	for (i = 0; i < LABCTL_FAULT_FLOOD_LINES; i++)
		pr_info("flood line %d of %d\n", i + 1,
			LABCTL_FAULT_FLOOD_LINES);
}

static void labctl_fault_lockup(void)
{
	unsigned long end = jiffies + LABCTL_FAULT_LOCKUP_SECS * HZ;

	pr_info("spinning for %d s with preemption off\n",
		LABCTL_FAULT_LOCKUP_SECS);
	preempt_disable();
	while (time_before(jiffies, end))
		mdelay(10);
	preempt_enable();
	pr_info("lockup over\n");
}

static ssize_t labctl_fault_write(struct file *file, const char __user *buf,
				  size_t count, loff_t *ppos)
{
	char cmd[16];
	size_t len = count;

	if (!len || len > sizeof(cmd) - 1)
		return -EINVAL;
	if (copy_from_user(cmd, buf, len))
		return -EFAULT;
	cmd[len] = '\0';
	if (cmd[len - 1] == '\n')
		cmd[len - 1] = '\0';

	pr_info("command \"%s\"\n", cmd);

	if (!strcmp(cmd, "oops")) {
		/* NULL pointer dereference, right here in the write handler. */
		WRITE_ONCE(*READ_ONCE(labctl_fault_ptr), 1);
	} else if (!strcmp(cmd, "warn")) {
		WARN(1, "labctl_fault: deliberate warning\n");
	} else if (!strcmp(cmd, "bug")) {
		BUG();
	} else if (!strcmp(cmd, "flood")) {
		labctl_fault_flood();
	} else if (!strcmp(cmd, "lockup")) {
		labctl_fault_lockup();
	} else {
		return -EINVAL;
	}

	return count;
}

static const struct file_operations labctl_fault_fops = {
	.owner	= THIS_MODULE,
	.write	= labctl_fault_write,
	.llseek	= noop_llseek,
};

static struct miscdevice labctl_fault_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "labctl_fault",
	.fops	= &labctl_fault_fops,
	.mode	= 0600,
};

module_misc_device(labctl_fault_misc);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("labctl authors");
MODULE_DESCRIPTION("Deliberately faulty module (fault-detection fixture)");
