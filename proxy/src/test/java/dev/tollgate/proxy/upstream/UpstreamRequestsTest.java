package dev.tollgate.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.Secret;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
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

    @Test
    void aProvidersExtraHeadersGoUpstreamInsteadOfTheClientsOfTheSameNameAndTheKeyStaysTollgates() {
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("HTTP-Referer", "https://acme.example/app");
        extra.put("X-Title", "Acme assistant");
        ProviderConfig openRouter = new ProviderConfig("openrouter", Protocol.OPENAI, URI.create("https://openrouter.ai/api/v1"), "OPENROUTER_API_KEY",
                new Secret("sk-or-provider"), null, null, extra, Map.of("OpenAI-Organization", new Secret("org-operator")));
        HttpHeaders client = new DefaultHttpHeaders()
                .add("Authorization", "Bearer tg-client-key")
                .add("x-title", "the client's own title")
                .add("X-Title", "and another")
                .add("OpenAI-Organization", "org-client")
                .add("User-Agent", "OpenAI/Python 2.8.0");

        HttpHeaders upstream = UpstreamRequests.headers(client, openRouter, 42);

        assertThat(upstream.getAll("x-title")).as("the operator's value, once").containsExactly("Acme assistant");
        assertThat(upstream.getAll("http-referer")).containsExactly("https://acme.example/app");
        assertThat(upstream.getAll("openai-organization")).as("from the environment, not the client's").containsExactly("org-operator");
        assertThat(upstream.getAll("authorization")).containsExactly("Bearer sk-or-provider");
        assertThat(upstream.get("user-agent")).isEqualTo("OpenAI/Python 2.8.0");
        assertThat(upstream.get("host")).isEqualTo("openrouter.ai");
        assertThat(upstream.getInt("content-length")).isEqualTo(42);
        assertThat(upstream.toString()).doesNotContain("tg-client-key");

        ProviderConfig plain = new ProviderConfig("openai", Protocol.OPENAI, URI.create("https://api.openai.com/v1"), null, null, null);
        HttpHeaders withoutExtras = UpstreamRequests.headers(client, plain, 42);
        assertThat(withoutExtras.getAll("x-title")).as("without extra headers the client's pass").containsExactly("the client's own title", "and another");
        assertThat(withoutExtras.contains("openai-organization")).as("the client's organisation never goes upstream").isFalse();
    }
}
