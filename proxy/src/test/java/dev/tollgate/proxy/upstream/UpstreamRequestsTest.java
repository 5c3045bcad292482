package dev.tollgate.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Protocol;
import org.junit.jupiter.api.Test;

class UpstreamRequestsTest {

    @Test
    void onlyTheQueryParametersAProviderDefinesGoUpstreamWithPlainValues() {
        assertThat(UpstreamRequests.query(Protocol.ANTHROPIC, "/v1/messages?beta=true")).isEqualTo("?beta=true");
        assertThat(UpstreamRequests.query(Protocol.ANTHROPIC, "/v1/messages")).isEmpty();
        assertThat(UpstreamRequests.query(Protocol.ANTHROPIC, "/v1/messages?beta=true&key=sk-x&redirect=http://evil"))
                .isEqualTo("?beta=true");
        assertThat(UpstreamRequests.query(Protocol.ANTHROPIC, "/v1/messages?beta=true%0d%0aHost:%20evil")).isEmpty();
        assertThat(UpstreamRequests.query(Protocol.OPENAI, "/v1/chat/completions?api-version=1&beta=true")).isEmpty();
    }
}
