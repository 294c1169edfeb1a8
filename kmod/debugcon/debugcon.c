// SPDX-License-Identifier: GPL-2.0
/*
 * debugcon - write-only character device for QEMU's debugcon port (0xe9)
 *
 * Loading this module creates /dev/debugcon (misc device, mode 0666).
 * Every byte written to it is sent with outb to I/O port 0xe9, which QEMU
 * captures when started with "-debugcon file:debugcon.txt" (or
 * "-debugcon stdio", ...):
 *
 *	echo "hello from Linux" > /dev/debugcon
 *
 * Semantics seen from user space:
 * - Only one open file may exist at a time.  A second open() fails with
 *   EBUSY until the first file is closed (the last close of its file
 *   description; dup()ed or inherited descriptors share the one open).
 * - Opening without write access fails with EINVAL, so a stray reader can
 *   not lock writers out.  There is no read(); lseek() fails with ESPIPE.
 * - write() copies the user buffer in 256-byte chunks and returns the number
 *   of bytes sent.  If the buffer faults part way, the bytes sent so far are
 *   returned (EFAULT if none were).  Large writes reschedule between chunks
 *   and stop early, returning the count sent, when the writer is being
 *   killed.
 *
 * labctl loads this module into its guests and compares what arrived on the
 * host side of the port with a scenario's expected file.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/miscdevice.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#ifndef CONFIG_X86
#error "debugcon needs x86 port I/O (QEMU's debugcon is ISA port 0xe9)"
#endif

#define DEBUGCON_PORT		0xe9
#define DEBUGCON_CHUNK		256

/* Bit DEBUGCON_BUSY is set while a file is open on the device. */
#define DEBUGCON_BUSY		0
static unsigned long debugcon_state;

static int debugcon_open(struct inode *inode, struct file *file)
{
	if (!(file->f_mode & FMODE_WRITE))
		return -EINVAL;

	/* Acquire semantics; pairs with clear_bit_unlock() in release. */
	if (test_and_set_bit_lock(DEBUGCON_BUSY, &debugcon_state))
		return -EBUSY;

	/* A byte stream: no file position, no lseek. Cannot fail. */
	return stream_open(inode, file);
}

static int debugcon_release(struct inode *inode, struct file *file)
{
	/* Release semantics: all our port writes happen before the unlock. */
	clear_bit_unlock(DEBUGCON_BUSY, &debugcon_state);
	return 0;
}

static ssize_t debugcon_write(struct file *file, const char __user *buf,
			      size_t count, loff_t *ppos)
{
	u8 chunk[DEBUGCON_CHUNK];
	size_t done = 0;

	while (done < count) {
		size_t len = min_t(size_t, count - done, sizeof(chunk));
		size_t missing;

		if (done) {
			if (fatal_signal_pending(current))
				break;
			cond_resched();
		}

		missing = copy_from_user(chunk, buf + done, len);
		len -= missing;
		outsb(DEBUGCON_PORT, chunk, len);
		done += len;
		if (missing)
			break;
	}

	pr_debug("wrote %zu of %zu bytes\n", done, count);

	if (!done && count)
		return -EFAULT;
	return done;
}

static const struct file_operations debugcon_fops = {
	.owner		= THIS_MODULE,
	.open		= debugcon_open,
	.release	= debugcon_release,
	.write		= debugcon_write,
};

static struct miscdevice debugcon_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "debugcon",
	.fops	= &debugcon_fops,
	.mode	= 0666,
};

static int __init debugcon_init(void)
{
	int ret;

	/* Claim the port so /proc/ioports shows who uses it. */
	if (!request_region(DEBUGCON_PORT, 1, "debugcon")) {
		pr_err("I/O port 0x%x is already in use\n", DEBUGCON_PORT);
		ret = -EBUSY;
		goto out;
	}

	ret = misc_register(&debugcon_misc);
	if (ret) {
		pr_err("misc_register failed: %d\n", ret);
		goto out_release_region;
	}

	pr_info("/dev/debugcon ready (I/O port 0x%x)\n", DEBUGCON_PORT);
	return 0;

out_release_region:
	release_region(DEBUGCON_PORT, 1);
out:
	return ret;
}

static void __exit debugcon_exit(void)
{
	misc_deregister(&debugcon_misc);
	release_region(DEBUGCON_PORT, 1);
}

module_init(debugcon_init);
module_exit(debugcon_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("labctl authors");
MODULE_DESCRIPTION("/dev/debugcon: write bytes to QEMU's debugcon port 0xe9");
