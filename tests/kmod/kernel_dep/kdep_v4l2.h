/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KDEP_V4L2_H
#define KDEP_V4L2_H

const char *kdep_v4l2_name(void);

#endif
