// SPDX-License-Identifier: GPL-2.0
/*
 * labctl_slab - slab memory bugs on purpose, a fixture for labctl's tests
 *
 * Debian's kernels have no KASAN, but SLUB's own debugging (slub_debug=FZPU,
 * labctl's "debug" profile) finds these bugs when the object is freed or its
 * slab is checked.  Without it the kernel says nothing about the first two.
 * Never load it anywhere but a throw-away VM.
 *
 * Loading it creates /dev/labctl_slab (mode 0600).  Writing a command word
 * to it (a trailing newline is ignored) does:
 *
 *	overrun      kmalloc(8), write 8 bytes past its end, kfree():
 *	             "Right Redzone overwritten" in kmalloc-8
 *	uaf          allocate a 64-byte object from a cache of its own, free it,
 *	             write its first byte, destroy the cache: "Poison
 *	             overwritten"
 *	double_free  kmalloc(8), kfree() twice: "Object already free"
 *
 * SLUB repairs what it reports, so the write returns normally.  Anything
 * else fails with EINVAL.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define LABCTL_SLAB_OBJECT	8
/* Big enough that SLUB's own free pointer (in the middle of a free object
 * unless poisoning moves it out) is not where the use-after-free writes.
 */
#define LABCTL_SLAB_UAF_OBJECT	64

/* The sizes pass through OPTIMIZER_HIDE_VAR so that no compile-time or
 * FORTIFY_SOURCE check sees the overrun coming: only SLUB may catch it.
 */
static noinline void labctl_slab_overrun(void)
{
	size_t size = LABCTL_SLAB_OBJECT;
	size_t end = 2 * LABCTL_SLAB_OBJECT;
	char *p;
	size_t i;

	OPTIMIZER_HIDE_VAR(size);
	OPTIMIZER_HIDE_VAR(end);
	p = kmalloc(size, GFP_KERNEL);
	if (!p)
		return;
	for (i = size; i < end; i++)
		p[i] = 'x';
	kfree(p);
}

static noinline void labctl_slab_uaf(void)
{
	struct kmem_cache *cache;
	char *p;

	cache = kmem_cache_create("labctl_slab_uaf", LABCTL_SLAB_UAF_OBJECT, 0,
				  0, NULL);
	if (!cache)
		return;
	p = kmem_cache_alloc(cache, GFP_KERNEL);
	if (p) {
		kmem_cache_free(cache, p);
		OPTIMIZER_HIDE_VAR(p);
		WRITE_ONCE(p[0], 'x');
	}
	/* Every object of the cache's slabs is checked as they are freed. */
	kmem_cache_destroy(cache);
}

static noinline void labctl_slab_double_free(void)
{
	size_t size = LABCTL_SLAB_OBJECT;
	char *p;

	OPTIMIZER_HIDE_VAR(size);
	p = kmalloc(size, GFP_KERNEL);
	if (!p)
		return;
	kfree(p);
	OPTIMIZER_HIDE_VAR(p);
	kfree(p);
}

static ssize_t labctl_slab_write(struct file *file, const char __user *buf,
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

	if (!strcmp(cmd, "overrun"))
		labctl_slab_overrun();
	else if (!strcmp(cmd, "uaf"))
		labctl_slab_uaf();
	else if (!strcmp(cmd, "double_free"))
		labctl_slab_double_free();
	else
		return -EINVAL;

	return count;
}

static const struct file_operations labctl_slab_fops = {
	.owner	= THIS_MODULE,
	.write	= labctl_slab_write,
	.llseek	= noop_llseek,
};

static struct miscdevice labctl_slab_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "labctl_slab",
	.fops	= &labctl_slab_fops,
	.mode	= 0600,
};

module_misc_device(labctl_slab_misc);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("labctl authors");
MODULE_DESCRIPTION("Slab memory bugs on purpose (memory-debug fixture)");
