// Runs every suite of the core's unit tests; exit status 0 only if all pass.
#include <check.h>

#include <cstdlib>

#include "test_keys.h"
#include "test_suites.h"

int main()
{
    // RSA key generation is slow, and Check runs each test in a forked child:
    // generate the keys once, here, so every child inherits them.
    testkeys::init_all();

    SRunner *runner = srunner_create(base64url_suite());
    srunner_add_suite(runner, jwks_suite());
    srunner_add_suite(runner, token_suite());
    srunner_add_suite(runner, verify_suite());
    srunner_add_suite(runner, authorize_suite());
    srunner_add_suite(runner, signature_fuzz_suite());
    srunner_add_suite(runner, signature_suite());
    srunner_add_suite(runner, forgery_suite());
    srunner_add_suite(runner, claims_suite());
    srunner_add_suite(runner, scope_suite());
    srunner_add_suite(runner, issuer_shapes_suite());
    srunner_add_suite(runner, http_response_suite());
    srunner_add_suite(runner, refresh_policy_suite());
    srunner_add_suite(runner, discovery_suite());
    srunner_add_suite(runner, status_page_suite());
    srunner_add_suite(runner, out_of_memory_suite());
    srunner_add_suite(runner, token_cache_suite());
    srunner_add_suite(runner, client_metadata_suite());
    srunner_add_suite(runner, signing_key_suite());
    srunner_add_suite(runner, metadata_suite());
    srunner_add_suite(runner, registry_suite());
    srunner_add_suite(runner, form_suite());
    srunner_add_suite(runner, token_request_suite());
    srunner_add_suite(runner, access_token_suite());
    srunner_add_suite(runner, dpop_proof_suite());

    srunner_run_all(runner, CK_NORMAL);
    const int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
