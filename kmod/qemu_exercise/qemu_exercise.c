// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_exercise - the "QEMU exercise" character device, done right
 *
 * Loading this module creates /dev/qemu_exercise (misc device, mode 0644:
 * anyone may read, root may write).
 *
 *	$ cat /dev/qemu_exercise
 *	Hello from QEMU!
 *
 * - read() always returns the greeting "Hello from QEMU!\n" (17 bytes) from
 *   the file position on, then end of file; every open starts at 0 and
 *   lseek() works within those 17 bytes.  Writes never change what is read.
 * - write() of N bytes logs, at info level,
 *	QEMU Exercise: Received N characters from the user
 *   followed by the text itself, escaped, in a second line
 *	QEMU Exercise: Message: "..."
 *   and returns N: the whole write is always accepted.  The first
 *   QEMU_EXERCISE_MSG_MAX - 1 (255) bytes are kept as the last message; a
 *   longer write is kept truncated.  `echo -n 'Test message'` logs 12,
 *   `echo 'Test message'` logs 13 (the newline counts).
 * - The last message is readable in sysfs, byte for byte as written (up to
 *   the first NUL byte, if any), empty before the first write:
 *	cat /sys/class/misc/qemu_exercise/message
 * - open() logs "QEMU Exercise: Device has been opened" and the last close of
 *   an open file logs "QEMU Exercise: Device successfully closed".
 *
 * labctl's scenarios/qemu_exercise.json checks all of the above in a guest.
 */

#define pr_fmt(fmt) "QEMU Exercise: " fmt

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#define QEMU_EXERCISE_MSG_MAX	256

static const char qemu_exercise_greeting[] = "Hello from QEMU!\n";
#define QEMU_EXERCISE_GREETING_LEN	(sizeof(qemu_exercise_greeting) - 1)

/* The last message written, NUL-terminated; protected by qemu_exercise_lock. */
static char qemu_exercise_msg[QEMU_EXERCISE_MSG_MAX];
static DEFINE_MUTEX(qemu_exercise_lock);

static int qemu_exercise_open(struct inode *inode, struct file *file)
{
	pr_info("Device has been opened\n");
	return 0;
}

static int qemu_exercise_release(struct inode *inode, struct file *file)
{
	pr_info("Device successfully closed\n");
	return 0;
}

static ssize_t qemu_exercise_read(struct file *file, char __user *buf,
				  size_t count, loff_t *ppos)
{
	return simple_read_from_buffer(buf, count, ppos,
				       qemu_exercise_greeting,
				       QEMU_EXERCISE_GREETING_LEN);
}

static ssize_t qemu_exercise_write(struct file *file, const char __user *buf,
				   size_t count, loff_t *ppos)
{
	char text[QEMU_EXERCISE_MSG_MAX];
	size_t len = min_t(size_t, count, sizeof(text) - 1);
	size_t shown = len;

	if (copy_from_user(text, buf, len))
		return -EFAULT;
	text[len] = '\0';

	mutex_lock(&qemu_exercise_lock);
	memcpy(qemu_exercise_msg, text, len + 1);
	mutex_unlock(&qemu_exercise_lock);

	/* Log the text without the newline echo adds; escape the rest. */
	if (shown && text[shown - 1] == '\n')
		shown--;
	pr_info("Received %zu characters from the user\n", count);
	pr_info("Message: \"%*pE\"%s\n", (int)shown, text,
		count > len ? " (truncated)" : "");

	return count;
}

static const struct file_operations qemu_exercise_fops = {
	.owner		= THIS_MODULE,
	.open		= qemu_exercise_open,
	.release	= qemu_exercise_release,
	.read		= qemu_exercise_read,
	.write		= qemu_exercise_write,
	.llseek		= default_llseek,
};

static ssize_t message_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	ssize_t ret;

	mutex_lock(&qemu_exercise_lock);
	ret = sysfs_emit(buf, "%s", qemu_exercise_msg);
	mutex_unlock(&qemu_exercise_lock);

	return ret;
}
static DEVICE_ATTR_RO(message);

static struct attribute *qemu_exercise_attrs[] = {
	&dev_attr_message.attr,
	NULL,
};
ATTRIBUTE_GROUPS(qemu_exercise);

static struct miscdevice qemu_exercise_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "qemu_exercise",
	.fops	= &qemu_exercise_fops,
	.groups	= qemu_exercise_groups,
	.mode	= 0644,
};

static int __init qemu_exercise_init(void)
{
	int ret;

	ret = misc_register(&qemu_exercise_misc);
	if (ret) {
		pr_err("misc_register failed: %d\n", ret);
		goto out;
	}

	pr_info("/dev/qemu_exercise ready\n");
	return 0;

out:
	return ret;
}

static void __exit qemu_exercise_exit(void)
{
	misc_deregister(&qemu_exercise_misc);
	pr_info("Goodbye\n");
}

module_init(qemu_exercise_init);
module_exit(qemu_exercise_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("labctl authors");
MODULE_DESCRIPTION("/dev/qemu_exercise: greets readers, logs writes");
