/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: connect-string validation on arbitrary bytes. The
 * library's own check must accept only strings the ZooKeeper client would
 * take, and never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../recipes/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (zkr__check_hosts(s) == ZKR_OK) {
        /* accepted strings have a port after every ':'-separated host */
        if (!strchr(s, ':') || s[0] == ',' || s[strlen(s) - 1] == ',')
            abort();
    }
    free(s);
    return 0;
}
