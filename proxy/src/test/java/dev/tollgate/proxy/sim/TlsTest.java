package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tollgate.proxy.sim.SimTestSupport.SseEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;

import static dev.tollgate.proxy.sim.SimTestSupport.chat;
import static dev.tollgate.proxy.sim.SimTestSupport.openAi;
import static dev.tollgate.proxy.sim.SimTestSupport.parse;
import static dev.tollgate.proxy.sim.SimTestSupport.parseSse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * HTTPS with the committed test-only certificate ({@code tls/localhost.crt}: CN=localhost,
 * SAN DNS:localhost and IP:127.0.0.1, valid 2025-2125) and its unencrypted PKCS#8 key.
 */
class TlsTest {

    static File resource(String name) {
        try {
            return new File(TlsTest.class.getResource("/tls/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static SslContext serverContext() throws IOException {
        return SslContextBuilder.forServer(resource("localhost.crt"), resource("localhost.key")).build();
    }

    /** A client that trusts exactly the test certificate. */
    static SSLContext trustingTestCertificate() throws IOException, GeneralSecurityException {
        KeyStore trustStore = KeyStore.getInstance(KeyStore.getDefaultType());
        trustStore.load(null, null);
        try (InputStream pem = TlsTest.class.getResourceAsStream("/tls/localhost.crt")) {
            trustStore.setCertificateEntry("localhost", CertificateFactory.getInstance("X.509").generateCertificate(pem));
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(trustStore);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }

    @Test
    void httpsRequestsAndStreamsWorkWithAClientTrustingTheTestCertificate() throws Exception {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withTls(serverContext()))) {
            assertThat(sim.baseUrl()).isEqualTo("https://127.0.0.1:" + sim.port() + "/v1");
            HttpClient client = HttpClient.newBuilder().sslContext(trustingTestCertificate()).build();

            HttpResponse<String> plain = SimTestSupport.send(client,
                    openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=3]")).build());
            assertThat(plain.statusCode()).isEqualTo(200);
            assertThat(plain.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
            JsonNode usage = parse(plain.body()).get("usage");
            assertThat(usage.get("completion_tokens").asInt()).isEqualTo(3);

            HttpResponse<String> streamed = SimTestSupport.send(client,
                    openAi(sim, "/chat/completions", chat("gpt-4o", "[sim:events=3]").put("stream", true)).build());
            List<SseEvent> events = parseSse(streamed.body());
            assertThat(events).hasSize(1 + 3 + 1 + 1);
        }
    }

    @Test
    void aClientWithDefaultTrustRejectsTheTestCertificate() throws Exception {
        try (SimulatedProvider sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults().withTls(serverContext()))) {
            HttpClient client = HttpClient.newHttpClient();
            assertThatThrownBy(() -> client.send(openAi(sim, "/models", chat("gpt-4o", "x")).build(),
                    HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(SSLHandshakeException.class);
        }
    }
}
