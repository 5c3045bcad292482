package dev.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code routes:} and {@code routing:} sections: read as written, refused with every problem named. */
class RoutesConfigTest {
    private static final String PROVIDERS = """
            providers:
              - { name: openai, protocol: openai, baseUrl: "https://api.openai.com/v1" }
              - { name: openai-eu, protocol: openai, baseUrl: "https://eu.example/v1" }
              - { name: anthropic, protocol: anthropic, baseUrl: "https://api.anthropic.com/v1" }
            """;

    @TempDir
    Path dir;

    private Path write(String routes) throws IOException {
        Files.writeString(dir.resolve("prices.yaml"), CatalogLoaderTest.HEADER + CatalogLoaderTest.row("openai", "gpt-4o-mini")
                + CatalogLoaderTest.row("openai-eu", "gpt-4o-mini") + CatalogLoaderTest.row("anthropic", "claude-haiku-4-5", "endpoints: [messages]"),
                StandardCharsets.UTF_8);
        Path file = dir.resolve("tollgate.yaml");
        Files.writeString(file, ConfigLoaderTest.LISTENERS + "catalog: prices.yaml\n" + PROVIDERS + routes, StandardCharsets.UTF_8);
        return file;
    }

    @Test
    void theIssuesShapeLoadsWithItsDefaults() throws IOException {
        TollgateConfig config = ConfigLoader.load(write("""
                routes:
                  - model: gpt-4o-mini            # what clients send
                    targets:
                      - { provider: openai, model: gpt-4o-mini, priority: 1, weight: 3 }
                      - { provider: openai-eu, model: gpt-4o-mini, priority: 2 }
                routing:
                  maxAttempts: 2
                  breaker: { consecutiveFailures: 7, openMs: 1000 }
                """), ConfigLoaderTest.NO_ENV);
        assertThat(config.routes()).containsExactly(new RouteConfig("gpt-4o-mini", java.util.List.of(
                new RouteConfig.Target("openai", "gpt-4o-mini", 1, 3), new RouteConfig.Target("openai-eu", "gpt-4o-mini", 2, 1))));
        assertThat(config.routing().maxAttempts()).isEqualTo(2);
        assertThat(config.routing().backoffMs()).isEqualTo(RoutingConfig.DEFAULT.backoffMs());
        assertThat(config.routing().breaker().consecutiveFailures()).isEqualTo(7);
        assertThat(config.routing().breaker().openMs()).isEqualTo(1000);
        assertThat(config.routing().breaker().halfOpenProbes()).isEqualTo(RoutingConfig.Breaker.DEFAULT.halfOpenProbes());

        TollgateConfig none = ConfigLoader.load(write(""), ConfigLoaderTest.NO_ENV);
        assertThat(none.routes()).isEmpty();
        assertThat(none.routing()).isEqualTo(RoutingConfig.DEFAULT);
    }

    @Test
    void aTargetThatCannotBeServedOrPricedIsRefusedWithItsPath() throws IOException {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(write("""
                routes:
                  - model: smart
                    targets:
                      - { provider: openai, model: gpt-4o-mini, weight: 0 }
                      - { provider: nowhere, model: gpt-4o-mini }
                      - { provider: openai-eu, model: gpt-9 }
                      - { provider: anthropic, model: claude-haiku-4-5, colour: red }
                  - model: smart
                    targets: []
                routing: { maxAttempts: 0, backoffMs: 50, maxBackoffMs: 10 }
                """), ConfigLoaderTest.NO_ENV));
        assertThat(e).isNotNull();
        assertThat(e.problems()).anySatisfy(p -> assertThat(p).contains("routes[0].targets[0].weight"))
                .anySatisfy(p -> assertThat(p).contains("routes[0].targets[1].provider").contains("no provider \"nowhere\""))
                .anySatisfy(p -> assertThat(p).contains("routes[0].targets[2].model").contains("no row for openai-eu/gpt-9"))
                .anySatisfy(p -> assertThat(p).contains("routes[0].targets[3].provider").contains("one route's targets speak one protocol"))
                .anySatisfy(p -> assertThat(p).contains("colour"))
                .anySatisfy(p -> assertThat(p).contains("routes[1].model").contains("a second route"))
                .anySatisfy(p -> assertThat(p).contains("routes[1].targets"))
                .anySatisfy(p -> assertThat(p).contains("routing.maxAttempts"))
                .anySatisfy(p -> assertThat(p).contains("routing.maxBackoffMs").contains("less than backoffMs"));
    }
}
