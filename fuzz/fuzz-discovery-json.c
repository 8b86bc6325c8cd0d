/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: Curator ServiceInstance JSON parsing on arbitrary
 * bytes. Invariant: an instance that serializes once serializes to the
 * same text after parsing that text back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zkr/registry.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zkr_service_instance_t *s = NULL, *t = NULL;
    char *j1 = NULL, *j2 = NULL;
    size_t l1 = 0;
    if (zkr_service_instance_from_json((const char *)data, size, &s) !=
        ZKR_OK)
        return 0;
    if (!s->name || !s->id)
        abort(); /* required members */
    if (zkr_service_instance_to_json(s, &j1, &l1) == ZKR_OK) {
        if (zkr_service_instance_from_json(j1, l1, &t) != ZKR_OK)
            abort();
        if (zkr_service_instance_to_json(t, &j2, NULL) != ZKR_OK ||
            strcmp(j1, j2) != 0)
            abort();
    }
    zkr_free(j1);
    zkr_free(j2);
    zkr_service_instance_free(s);
    zkr_service_instance_free(t);
    return 0;
}
