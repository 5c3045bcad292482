package dev.tollgate.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.CatalogLoader;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.Limits;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.metering.request.InspectedRequest;
import dev.tollgate.metering.request.RequestInspector;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Request admission for a typical chat body (a system prompt and three turns, about 1 KB): the key
 * lookup (SHA-256 of the presented key, then a map read among 10,000 keys), the catalog lookup, and
 * the reservation estimate (parse the body, check its fields, compute the worst case). Baseline:
 * Jackson parsing the same body into a tree, which the estimate does too.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AdmissionBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ApiKeys keys;
    private String presentedKey;
    private ModelRoutes routes;
    private Admission admission;
    private byte[] body;

    @Setup
    public void setUp() {
        SecureRandom random = new SecureRandom();
        keys = new ApiKeys();
        for (int i = 0; i < 10_000; i++) {
            String key = ApiKeys.newRawKey(random);
            keys.add(new ApiKeys.ApiKey(ApiKeys.sha256Hex(key), "key-" + i, "account-" + (i % 1_000), i % 1_000));
            presentedKey = key;
        }
        PriceCatalog catalog = CatalogLoader.loadBuiltin();
        URI base = URI.create("https://api.example/v1");
        routes = new ModelRoutes(catalog, List.of(new ProviderConfig("openai", Protocol.OPENAI, base, null, null, null),
                new ProviderConfig("anthropic", Protocol.ANTHROPIC, base, null, null, null)));
        admission = new Admission(Limits.defaults());
        body = ("{\"model\":\"gpt-4o-mini\",\"stream\":true,\"max_tokens\":512,\"temperature\":0.2,\"messages\":["
                + "{\"role\":\"system\",\"content\":\"You are a careful assistant for an internal billing team. Answer in short paragraphs, "
                + "cite the document you used, and say so when you do not know.\"},"
                + "{\"role\":\"user\",\"content\":\"Our prepaid balance dropped faster than expected last week. Which models drove the spend?\"},"
                + "{\"role\":\"assistant\",\"content\":\"Most of the spend came from long-context requests to the larger model, mainly from the "
                + "batch summarisation job, which sends full documents without trimming them first.\"},"
                + "{\"role\":\"user\",\"content\":\"How would we cap that job without slowing the interactive traffic? Give two options with "
                + "their trade-offs, and a rough cost estimate for each at our current volume of about forty thousand requests a day.\"}]}")
                .getBytes(StandardCharsets.UTF_8);
    }

    @Benchmark
    public ApiKeys.ApiKey keyLookup() {
        return keys.lookup(presentedKey);
    }

    @Benchmark
    public ModelRoutes.Route catalogLookup() {
        return routes.find(Protocol.OPENAI, "gpt-4o-mini");
    }

    @Benchmark
    public long reservationEstimate() {
        InspectedRequest request = RequestInspector.inspect(EndpointFamily.CHAT_COMPLETIONS, body, 0, body.length).request();
        return admission.plan(request, routes.find(Protocol.OPENAI, request.model()).row()).worstCaseMicros();
    }

    /** Baseline: Jackson parsing the body into a tree. */
    @Benchmark
    public JsonNode jacksonTreeBaseline() throws IOException {
        return JSON.readTree(body);
    }
}
