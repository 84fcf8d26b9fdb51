/* tests/replica/test_addr.c - "host:port" text to and from socket
 * addresses (replica/addr.h). */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <netinet/in.h>
#include <string.h>

#include "carnet/error.h"
#include "replica/addr.h"

static void test_addr_parse(void **state) {
  (void)state;
  carnet__hostport hp;
  struct sockaddr_storage ss;
  char why[128];
  assert_int_equal(carnet__addr_parse("127.0.0.1:7373", false, &hp, why, sizeof why), 0);
  assert_string_equal(hp.host, "127.0.0.1");
  assert_int_equal(hp.port, 7373);
  assert_true(carnet__addr_numeric(&hp, &ss));
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(carnet__addr_parse("[::1]:1", false, &hp, why, sizeof why), 0);
  assert_string_equal(hp.host, "::1");
  assert_true(carnet__addr_numeric(&hp, &ss));
  assert_int_equal(ss.ss_family, AF_INET6);
  char text[64];
  carnet__addr_format((struct sockaddr *)&ss, text, sizeof text);
  assert_string_equal(text, "[::1]:1");
  assert_int_equal(carnet__addr_parse("office-pc.lan:65535", false, &hp, why, sizeof why), 0);
  assert_false(carnet__addr_numeric(&hp, &ss));
  assert_int_equal(carnet__addr_parse("127.0.0.1:0", true, &hp, why, sizeof why), 0);
  static const char *const bad[] = {"",        "127.0.0.1", "127.0.0.1:",   ":7373",
                                    "h:65536", "h:12a",     "::1:7373",     "[::1]7373",
                                    "h:0",     "a b:7373",  "h:99999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    assert_int_equal(carnet__addr_parse(bad[i], false, &hp, why, sizeof why), CARNET_EINVAL);
    assert_true(why[0] != '\0');
  }
  char long_host[400];
  memset(long_host, 'a', sizeof long_host);
  memcpy(long_host + 390, ":7373", 6);
  assert_int_equal(carnet__addr_parse(long_host, false, &hp, why, sizeof why), CARNET_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
