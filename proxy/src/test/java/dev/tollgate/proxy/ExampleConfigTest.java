package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tollgate.config.ConfigException;
import dev.tollgate.config.ConfigLoader;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ModelRoutes;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The example configuration shipped for real providers loads, and routes the catalog's main models. */
class ExampleConfigTest {
    private static final Path EXAMPLE = Path.of("..", "config", "tollgate.example.yaml");

    @Test
    void loadsWithProviderKeysFromTheEnvironment() {
        Map<String, String> env = Map.of("OPENAI_API_KEY", "sk-1", "ANTHROPIC_API_KEY", "sk-ant-1", "GEMINI_API_KEY", "g-1", "DEEPSEEK_API_KEY", "d-1");
        TollgateConfig config = ConfigLoader.load(EXAMPLE, env::get);
        ModelRoutes routes = new ModelRoutes(config.catalog(), config.providers());
        assertThat(routes.find(Protocol.OPENAI, "gpt-4o-mini").provider().baseUrl().getHost()).isEqualTo("api.openai.com");
        assertThat(routes.find(Protocol.ANTHROPIC, "claude-haiku-4-5").provider().name()).isEqualTo("anthropic");
        assertThat(routes.find(Protocol.OPENAI, "gemini-2.5-flash").provider().basePath()).isEqualTo("/v1beta/openai");
        assertThat(routes.find(Protocol.OPENAI, "deepseek-chat").provider().name()).isEqualTo("deepseek");
        assertThat(routes.find(Protocol.ANTHROPIC, "gpt-4o-mini")).as("a model is routed only on its own surface").isNull();
        assertThat(config.provider("openai").apiKey().toString()).doesNotContain("sk-1");
        // The lanes of the configuration shape the documentation shows.
        assertThat(config.lanes()).extracting(dev.tollgate.config.LaneConfig::name).containsExactly("interactive", "batch");
        assertThat(config.lane("batch").priceMultiplierBps()).isEqualTo(5_000);
        assertThat(config.lane("batch").queueTimeoutMs()).isEqualTo(600_000);
    }

    @Test
    void refusesToStartWithoutTheProviderKeysAndSaysWhichAreMissing() {
        assertThatThrownBy(() -> ConfigLoader.load(EXAMPLE, name -> null))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).problems())
                        .hasSize(4)
                        .anySatisfy(problem -> assertThat(problem).contains("providers[0].apiKeyEnv").contains("OPENAI_API_KEY")));
    }
}
