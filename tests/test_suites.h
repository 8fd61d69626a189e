// One Check suite per area of the core; check_main.cpp runs them all.
#pragma once

#include <check.h>

Suite *base64url_suite();
Suite *jwks_suite();
Suite *token_suite();
Suite *verify_suite();
Suite *authorize_suite();
Suite *signature_fuzz_suite();
Suite *signature_suite();
Suite *forgery_suite();
Suite *claims_suite();
Suite *scope_suite();
Suite *issuer_shapes_suite();
Suite *http_response_suite();
Suite *refresh_policy_suite();
Suite *discovery_suite();
Suite *status_page_suite();
Suite *out_of_memory_suite();
Suite *token_cache_suite();
Suite *client_metadata_suite();
Suite *signing_key_suite();
Suite *metadata_suite();
Suite *registry_suite();
Suite *form_suite();
Suite *token_request_suite();
Suite *access_token_suite();
Suite *dpop_proof_suite();
