/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: path validation, joining and sequence parsing on
 * arbitrary bytes. Invariants: a joined path is valid; parsing never reads
 * past the string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zkr/zkr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *joined = NULL;
    const char *sep;
    int32_t seq;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)zkr_path_validate(s);
    (void)zkr_seq_parse(s, &seq);
    /* split at the first NUL-free '|' into parent and child */
    sep = strchr(s, '|');
    if (sep) {
        char *parent = strndup(s, (size_t)(sep - s));
        if (parent && zkr_path_join(parent, sep + 1, &joined) == ZKR_OK) {
            if (zkr_path_validate(joined) != ZKR_OK)
                abort(); /* join must only produce valid paths */
            zkr_free(joined);
        }
        free(parent);
    }
    free(s);
    return 0;
}
