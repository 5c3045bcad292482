package dev.tollgate.proxy;

import dev.tollgate.proxy.listener.TollgateServer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Limits;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.proxy.sim.SimulatedProvider;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Upstream over HTTPS, as to the real providers: a local TLS server with a self-signed certificate stands in. */
class TlsUpstreamTest {

    private static Path resource(String name) throws URISyntaxException {
        return Path.of(TlsUpstreamTest.class.getResource("/tls/" + name).toURI());
    }

    private static HttpResponse<String> chat(TollgateServer server, TestGateways test, boolean stream) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + test.key).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"stream\":" + stream
                        + ",\"messages\":[{\"role\":\"user\",\"content\":\"over TLS [sim:events=3]\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void proxiesToAnHttpsUpstreamItIsToldToTrust() throws Exception {
        var serverTls = SslContextBuilder.forServer(resource("localhost.crt").toFile(), resource("localhost.key").toFile()).build();
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withTls(serverTls))) {
            assertThat(sim.baseUrl()).startsWith("https://");
            URI base = URI.create("https://localhost:" + sim.port() + "/v1");
            TestGateways test = new TestGateways(List.of(new ProviderConfig("openai", Protocol.OPENAI, base, null,
                    TestGateways.PROVIDER_KEY, resource("localhost.crt"))), 1_000_000, Limits.defaults());
            try (test; TollgateServer server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 1, Transport.best())) {
                assertThat(chat(server, test, false).statusCode()).isEqualTo(200);
                HttpResponse<String> streamed = chat(server, test, true);
                assertThat(streamed.body()).contains(" alpha").endsWith("data: [DONE]\n\n");
                assertThat(test.outcomes).hasSize(2).allSatisfy(outcome -> assertThat(outcome.reason()).isEqualTo("completed"));
                assertThat(sim.recentRequests()).hasSize(2);
            }
            assertThat(test.conservationError()).isZero();
        }
    }

    @Test
    void refusesAnUpstreamCertificateItDoesNotTrustAndChargesNothing() throws Exception {
        var serverTls = SslContextBuilder.forServer(resource("localhost.crt").toFile(), resource("localhost.key").toFile()).build();
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withTls(serverTls))) {
            URI base = URI.create("https://localhost:" + sim.port() + "/v1");
            TestGateways test = new TestGateways(List.of(new ProviderConfig("openai", Protocol.OPENAI, base, null,
                    TestGateways.PROVIDER_KEY, null)), 1_000_000, Limits.defaults());
            try (test; TollgateServer server = TollgateServer.start(test.gateway, new ListenerConfig("127.0.0.1", 0), 1, Transport.best())) {
                HttpResponse<String> response = chat(server, test, false);
                assertThat(response.statusCode()).isEqualTo(502);
                assertThat(response.body()).contains("\"code\":\"upstream_unavailable\"");
                assertThat(sim.requestsReceived()).as("no request crossed an untrusted connection").isZero();
            }
            assertThat(test.outcomes).singleElement().satisfies(outcome -> assertThat(outcome.status()).isEqualTo(Outcome.RELEASED));
            assertThat(test.available()).isEqualTo(1_000_000);
        }
    }
}
