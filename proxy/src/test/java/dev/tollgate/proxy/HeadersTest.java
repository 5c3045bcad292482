package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

class HeadersTest {

    @Test
    void theProvidersRateLimitHeadersAreDroppedWhateverTheirCaseAndRetryAfterIsKept() {
        HttpHeaders upstream = new DefaultHttpHeaders()
                .add("X-RateLimit-Remaining-Tokens", "29999950")
                .add("x-ratelimit-limit-requests", "10000")
                .add("Anthropic-RateLimit-Output-Tokens-Reset", "2026-01-01T00:00:00Z")
                .add("anthropic-ratelimit-requests-remaining", "3999")
                .add("Retry-After", "1")
                .add("x-request-id", "req_1")
                // Not of either family: the prefixes end in a dash.
                .add("x-ratelimited-by", "edge")
                .add("anthropic-ratelimiter", "edge");
        HttpHeaders client = new DefaultHttpHeaders();
        Headers.copyResponseHeaders(upstream, client);
        assertThat(client.names()).containsExactlyInAnyOrder("retry-after", "x-request-id", "x-ratelimited-by", "anthropic-ratelimiter");
    }

    @Test
    void theOperatorsOrganisationAndProjectAtTheProviderAreNotReturned() {
        HttpHeaders upstream = new DefaultHttpHeaders()
                .add("OpenAI-Organization", "org-operator")
                .add("openai-project", "proj_operator")
                .add("anthropic-organization-id", "0a1b2c3d-operator")
                .add("openai-processing-ms", "120")
                .add("request-id", "req_1");
        HttpHeaders client = new DefaultHttpHeaders();
        Headers.copyResponseHeaders(upstream, client);
        assertThat(client.names()).containsExactlyInAnyOrder("openai-processing-ms", "request-id");
    }
}
