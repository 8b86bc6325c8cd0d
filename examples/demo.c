/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <zkr/zkr.h>
int main(void) { printf("zkr %s\n", zkr_version_string()); return 0; }
