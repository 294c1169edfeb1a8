/* SPDX-License-Identifier: GPL-2.0 */
/* Shared header found through $(PWD)/../include (labctl test fixture). */
#define PWD_INCLUDE_GREETING "pwd_include: header from ../include"
