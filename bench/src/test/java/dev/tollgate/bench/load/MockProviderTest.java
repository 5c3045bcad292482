package dev.tollgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.bench.load.LoadGenerator.Result;
import dev.tollgate.bench.load.LoadGenerator.Spec;
import dev.tollgate.bench.load.MockResponses.Dialect;
import dev.tollgate.bench.load.MockResponses.Shape;
import dev.tollgate.bench.load.RequestTemplate.Surface;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.Usage;
import dev.tollgate.metering.stream.JsonUsageScanner;
import dev.tollgate.metering.stream.SseEvent;
import dev.tollgate.metering.stream.StreamMeter;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The mock speaks formats Tollgate's own meters read (usage in the real fields, one token per content
 * event), and every kind of answer passes the generator's completeness checks.
 */
class MockProviderTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @Test
    void tollgatesStreamMetersReadTheMocksUsageAndCountOneTokenPerEvent() {
        for (boolean includeUsage : new boolean[] {true, false}) {
            Shape openAi = new Shape(Dialect.OPENAI, "gpt-4o-mini", 20, false, 37, true, includeUsage);
            StreamMeter meter = StreamMeter.forFamily(EndpointFamily.CHAT_COMPLETIONS, TokenCounter.forEncoding("o200k_base"), includeUsage);
            byte[][] events = MockResponses.build(openAi).events();
            feed(meter, events);
            assertThat(meter.finished()).isTrue();
            assertThat(meter.outputTokensCounted()).isEqualTo(20);
            if (includeUsage) {
                assertThat(meter.usageFinal()).isTrue();
                assertThat(meter.usage().toUsage(EndpointFamily.CHAT_COMPLETIONS, 0, 0)).isEqualTo(Usage.fromOpenAi(37, 0, 20, 57, 0));
            }
            assertThat(events.length).isEqualTo(20 + (includeUsage ? 4 : 3));
        }

        Shape anthropic = new Shape(Dialect.ANTHROPIC, "claude-haiku-4-5", 20, false, 29, true, false);
        StreamMeter meter = StreamMeter.forFamily(EndpointFamily.MESSAGES, TokenCounter.forEncoding("cl100k_base"), false);
        byte[][] events = MockResponses.build(anthropic).events();
        feed(meter, events);
        assertThat(meter.finished()).isTrue();
        assertThat(meter.usageFinal()).isTrue();
        assertThat(meter.outputTokensCounted()).isEqualTo(20);
        assertThat(meter.usage().toUsage(EndpointFamily.MESSAGES, 0, 0)).isEqualTo(Usage.fromAnthropic(29, 0, 0, 20));
        assertThat(events.length).isEqualTo(20 + 6);
    }

    private static void feed(StreamMeter meter, byte[][] events) {
        SseEvent event = new SseEvent();
        for (byte[] bytes : events) {
            meter.onEvent(event.parse(bytes, 0, bytes.length));
        }
    }

    @Test
    void tollgatesJsonScannerReadsTheMocksUsage() {
        Object[][] cases = {
                {new Shape(Dialect.OPENAI, "gpt-4o-mini", 20, false, 37, false, false), EndpointFamily.CHAT_COMPLETIONS,
                        Usage.fromOpenAi(37, 0, 20, 57, 0), "o200k_base"},
                {new Shape(Dialect.ANTHROPIC, "claude-haiku-4-5", 5, true, 29, false, false), EndpointFamily.MESSAGES,
                        Usage.fromAnthropic(29, 0, 0, 5), "cl100k_base"},
        };
        for (Object[] c : cases) {
            JsonUsageScanner scanner = new JsonUsageScanner(TokenCounter.forEncoding((String) c[3]));
            byte[] body = MockResponses.build((Shape) c[0]).body();
            scanner.feed(body, 0, body.length);
            scanner.end();
            assertThat(scanner.usage().toUsage((EndpointFamily) c[1], 0, 0)).isEqualTo(c[2]);
            assertThat(scanner.outputTokensCounted()).isEqualTo(((Shape) c[0]).outputTokens());
        }
    }

    @Test
    void everyKindOfAnswerArrivesWholeAndAWrongKeyIsRefused() throws Exception {
        try (MockProvider mock = MockProvider.start(new MockProvider.Settings("127.0.0.1", 0, 1, "mock-key", 20, 0));
             LoadGenerator generator = new LoadGenerator(1)) {
            String host = "127.0.0.1:" + mock.port();
            List<RequestTemplate> mix = List.of(
                    RequestTemplate.chat(Surface.OPENAI, false, 20, 0, host, "mock-key"),
                    RequestTemplate.chat(Surface.ANTHROPIC, false, 20, 0, host, "mock-key"),
                    RequestTemplate.chat(Surface.OPENAI, true, 20, 0, host, "mock-key"),
                    RequestTemplate.chat(Surface.ANTHROPIC, true, 20, 0, host, "mock-key"),
                    RequestTemplate.chat(Surface.OPENAI, true, 3, 5, host, "mock-key"),
                    RequestTemplate.chat(Surface.ANTHROPIC, true, 3, 5, host, "mock-key"));
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", mock.port());
            Spec spec = new Spec("mock", address, mix, 240, 0, 500 * MS, 32, 1024, 5_000 * MS, 1_000 * MS, List.of());
            Result result = generator.run(spec, System.nanoTime() + 20 * MS);
            assertThat(result.clean()).as(result.problems().toString()).isTrue();
            assertThat(result.all().completed()).isEqualTo(120);
            assertThat(result.ttfbUs().getTotalCount()).isEqualTo(80);
            // The paced streams: 3 + 4 (OpenAI) and 3 + 6 (Anthropic) events, 5 ms apart.
            assertThat(result.gapUs().getMaxValue()).isGreaterThanOrEqualTo(4_000);
            assertThat(mock.requests()).isEqualTo(120);
            assertThat(mock.openStreams()).isZero();

            Spec wrongKey = new Spec("wrong key", address, List.of(RequestTemplate.chat(Surface.ANTHROPIC, false, 20, 0, host, "nope")), 40, 0,
                    100 * MS, 4, 1024, 5_000 * MS, 1_000 * MS, List.of());
            Result refused = generator.run(wrongKey, System.nanoTime() + 20 * MS);
            assertThat(refused.all().errors()).isEqualTo(4);
            assertThat(refused.problems()).allMatch(problem -> problem.contains("status 401"));
        }
    }
}
