/* SPDX-License-Identifier: Apache-2.0 */
/* Pure helpers: error table, path validation and joining, sequence
 * suffixes. No server needed. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include <zkr/zkr.h>

int main(void)
{
    char *s = NULL;
    int32_t seq = 0;

    is(ZKR_ENONODE, -101, "ZKR_ENONODE keeps ZooKeeper's value");
    is(ZKR_EINVAL, -1000, "zkr's own codes start at -1000");
    is_str(zkr_strerror(ZKR_ENONODE), "node does not exist", "strerror");
    is_str(zkr_err_name(ZKR_EDEADLK), "EDEADLK", "err_name");
    is_str(zkr_err_name(-4242), "EUNKNOWN", "unknown code has a name");
    is_str(zkr_strerror(-4242), "unknown error", "unknown code has text");
    ok(strlen(zkr_version_string()) > 0, "version string");

    is(zkr_path_validate("/"), ZKR_OK, "root is valid");
    is(zkr_path_validate("/a/b-c_d.e"), ZKR_OK, "plain path valid");
    is(zkr_path_validate(NULL), ZKR_EINVAL, "NULL path");
    is(zkr_path_validate(""), ZKR_EBADPATH, "empty path");
    is(zkr_path_validate("a/b"), ZKR_EBADPATH, "relative path");
    is(zkr_path_validate("/a/"), ZKR_EBADPATH, "trailing slash");
    is(zkr_path_validate("/a//b"), ZKR_EBADPATH, "empty component");
    is(zkr_path_validate("/a/./b"), ZKR_EBADPATH, "dot component");
    is(zkr_path_validate("/a/.."), ZKR_EBADPATH, "dot-dot component");
    is(zkr_path_validate("/a/..b"), ZKR_OK, "dots inside a name are fine");
    is(zkr_path_validate("/a\x01"), ZKR_EBADPATH, "control character");
    {
        char *big = malloc(5000);
        memset(big, 'x', 4999);
        big[0] = '/';
        big[4999] = '\0';
        is(zkr_path_validate(big), ZKR_EBADPATH, "over-long path");
        free(big);
    }

    is(zkr_path_join("/a", "b", &s), ZKR_OK, "join");
    is_str(s, "/a/b", "join result");
    zkr_free(s);
    is(zkr_path_join("/", "b", &s), ZKR_OK, "join at root");
    is_str(s, "/b", "join at root result");
    zkr_free(s);
    is(zkr_path_join("/a", "b/c", &s), ZKR_EBADPATH, "child with slash");
    ok(s == NULL, "out cleared on error");
    is(zkr_path_join("/a", "", &s), ZKR_EBADPATH, "empty child");
    is(zkr_path_join(NULL, "x", &s), ZKR_EINVAL, "NULL parent");
    is(zkr_path_join("/a", "..", &s), ZKR_EBADPATH, "dot-dot child");

    is(zkr_seq_parse("_c_1-lock-0000000042", &seq), ZKR_OK, "seq parse");
    is(seq, 42, "seq value");
    is(zkr_seq_parse("x__lock__2147483647", &seq), ZKR_OK, "seq max");
    is(seq, 2147483647, "seq max value");
    is(zkr_seq_parse("lock--2147483648", &seq), ZKR_OK, "wrapped seq");
    is(seq, -2147483647 - 1, "wrapped seq value is negative");
    is(zkr_seq_parse("lock--000000001", &seq), ZKR_OK, "seq -1");
    is(seq, -1, "seq -1 value");
    is(zkr_seq_parse("_c_x-lock-1000000000", &seq), ZKR_OK, "large positive");
    is(seq, 1000000000, "dash separator is not a sign");
    is(zkr_seq_parse("k__lock__-1000000000", &seq), ZKR_OK, "kazoo wrapped");
    is(seq, -1000000000, "kazoo wrapped value");
    is(zkr_seq_parse("lock-000000004x", &seq), ZKR_EINVAL, "not digits");
    is(zkr_seq_parse("short1", &seq), ZKR_EINVAL, "too short");
    is(zkr_seq_parse(NULL, &seq), ZKR_EINVAL, "NULL name");

    is_str(zkr_state_name(ZKR_STATE_SUSPENDED), "SUSPENDED", "state name");
    zkr_free(NULL);
    zkr_strings_free(NULL, 3);
    ok(1, "free functions accept NULL");
    return done_testing();
}
