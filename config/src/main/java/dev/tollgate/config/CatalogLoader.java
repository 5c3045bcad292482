package dev.tollgate.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Loads and strictly validates a price catalog such as the shipped {@code config/pricing.yaml}. */
public final class CatalogLoader {
    /** Classpath location of the shipped catalog (copied there from {@code config/pricing.yaml} at build time). */
    public static final String BUILTIN_RESOURCE = "/dev/tollgate/config/pricing.yaml";
    public static final String BUILTIN_NAME = "builtin";
    static final Set<String> ENCODINGS = Set.of("o200k_base", "cl100k_base", "p50k_base", "r50k_base");

    private CatalogLoader() {
    }

    /** The catalog from where {@code current} was read (its file, or the built-in one), read and validated again. */
    public static PriceCatalog reload(PriceCatalog current) {
        return current.file() == null ? loadBuiltin() : load(current.file());
    }

    public static PriceCatalog loadBuiltin() {
        try (InputStream in = CatalogLoader.class.getResourceAsStream(BUILTIN_RESOURCE)) {
            if (in == null) {
                throw new ConfigException(List.of("pricing.yaml: the built-in catalog is missing from the classpath"));
            }
            return load("pricing.yaml", in);
        } catch (IOException e) {
            throw new ConfigException(List.of("pricing.yaml: cannot read the built-in catalog: " + e.getMessage()));
        }
    }

    /** The catalog in {@code file}, which it keeps as its {@link PriceCatalog#file()} to be read again on a reload. */
    public static PriceCatalog load(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            PriceCatalog catalog = load(file.toString(), in);
            return new PriceCatalog(catalog.currency(), catalog.microsPerUnit(), catalog.rows(), file.toAbsolutePath());
        } catch (IOException e) {
            throw new ConfigException(List.of(file + ": cannot read: " + e.getMessage()));
        }
    }

    public static PriceCatalog load(String fileName, InputStream in) {
        Problems problems = new Problems(fileName);
        YamlObject root = YamlObject.of(Yaml.read(fileName, in), "", problems);
        problems.throwIfAny();
        String currency = root.text("currency");
        long microsPerUnit = root.nonNegativeLong("microsPerUnit");
        if (root.has("microsPerUnit") && microsPerUnit == 0) {
            problems.add("microsPerUnit", "must be positive");
        }
        List<ModelRow> rows = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        List<JsonNode> items = root.nonEmptyList("models");
        for (int i = 0; i < items.size(); i++) {
            ModelRow row = readRow(YamlObject.of(items.get(i), "models[" + i + "]", problems), problems);
            if (row != null && !seen.add(row.provider() + "/" + row.model())) {
                problems.add("models[" + i + "]", "duplicate model row (" + row.provider() + ", " + row.model() + ")");
            }
            if (row != null) {
                rows.add(row);
            }
        }
        root.rejectUnknown();
        problems.throwIfAny();
        return new PriceCatalog(currency, microsPerUnit, rows);
    }

    private static ModelRow readRow(YamlObject row, Problems problems) {
        if (row == null) {
            return null;
        }
        int before = problems.lines().size();
        String provider = row.text("provider");
        String model = row.text("model");
        Set<EndpointFamily> endpoints = EnumSet.noneOf(EndpointFamily.class);
        List<JsonNode> endpointNodes = row.nonEmptyList("endpoints");
        for (int i = 0; i < endpointNodes.size(); i++) {
            JsonNode node = endpointNodes.get(i);
            EndpointFamily family = node.isTextual() ? EndpointFamily.parse(node.textValue(), EndpointFamily.class) : null;
            if (family == null) {
                problems.add(row.childPath("endpoints") + "[" + i + "]", "expected one of chat_completions, completions, embeddings, responses, messages" + YamlObject.found(node));
            } else {
                endpoints.add(family);
            }
        }
        String encoding = row.text("encoding");
        if (encoding != null && !ENCODINGS.contains(encoding)) {
            problems.add(row.childPath("encoding"), "expected one of " + ENCODINGS + ", found \"" + encoding + "\"");
        }
        long contextWindowTokens = row.nonNegativeLong("contextWindowTokens");
        long maxOutputTokens = row.nonNegativeLong("maxOutputTokens");
        long input = price(row, "inputMicrosPerMillionTokens", problems);
        long cacheRead = price(row, "cacheReadMicrosPerMillionTokens", problems);
        long cacheWrite = price(row, "cacheWriteMicrosPerMillionTokens", problems);
        long output = price(row, "outputMicrosPerMillionTokens", problems);
        LocalDate asOf = row.date("asOf");
        URI source = row.httpUrl("source");
        List<PriceTier> tiers = tiers(row, contextWindowTokens, problems);
        row.rejectUnknown();

        if (contextWindowTokens == 0 && row.has("contextWindowTokens")) {
            problems.add(row.childPath("contextWindowTokens"), "must be positive");
        }
        if (contextWindowTokens > ModelRow.MAX_CONTEXT_WINDOW_TOKENS) {
            problems.add(row.childPath("contextWindowTokens"), "must be at most " + ModelRow.MAX_CONTEXT_WINDOW_TOKENS);
        }
        if (maxOutputTokens > contextWindowTokens && contextWindowTokens > 0) {
            problems.add(row.childPath("maxOutputTokens"), "must not exceed contextWindowTokens (" + contextWindowTokens + ")");
        }
        boolean generates = endpoints.stream().anyMatch(f -> f != EndpointFamily.EMBEDDINGS);
        if (generates && maxOutputTokens == 0 && row.has("maxOutputTokens")) {
            problems.add(row.childPath("maxOutputTokens"), "must be positive for a model serving " + endpoints);
        }
        Protocol protocol = null;
        for (EndpointFamily family : endpoints) {
            if (protocol != null && family.protocol() != protocol) {
                problems.add(row.childPath("endpoints"), "mixes OpenAI and Anthropic endpoint families");
                break;
            }
            protocol = family.protocol();
        }
        return problems.lines().size() == before
                ? new ModelRow(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, input, cacheRead, cacheWrite, output, asOf, source,
                tiers)
                : null;
    }

    /**
     * {@code tiers}: optional, each {@code abovePromptTokens} and the four prices, strictly ascending by threshold and
     * each threshold below the context window (a tier no prompt can reach is a mistake, not a price).
     */
    private static List<PriceTier> tiers(YamlObject row, long contextWindowTokens, Problems problems) {
        List<PriceTier> tiers = new ArrayList<>();
        List<JsonNode> nodes = row.list("tiers", false);
        long previous = 0;
        for (int i = 0; i < nodes.size(); i++) {
            YamlObject tier = YamlObject.of(nodes.get(i), row.childPath("tiers") + "[" + i + "]", problems);
            if (tier == null) {
                continue;
            }
            long above = tier.nonNegativeLong("abovePromptTokens");
            PriceTier parsed = new PriceTier(above, price(tier, "inputMicrosPerMillionTokens", problems),
                    price(tier, "cacheReadMicrosPerMillionTokens", problems), price(tier, "cacheWriteMicrosPerMillionTokens", problems),
                    price(tier, "outputMicrosPerMillionTokens", problems));
            tier.rejectUnknown();
            if (above <= previous && tier.has("abovePromptTokens")) {
                problems.add(tier.childPath("abovePromptTokens"), previous == 0 ? "must be positive"
                        : "must be above the tier before it (" + previous + "): tiers are listed shortest prompt first");
            }
            if (contextWindowTokens > 0 && above >= contextWindowTokens) {
                problems.add(tier.childPath("abovePromptTokens"), "must be below contextWindowTokens (" + contextWindowTokens
                        + "): no prompt could reach this tier");
            }
            previous = Math.max(previous, above);
            tiers.add(parsed);
        }
        return tiers;
    }

    private static long price(YamlObject row, String field, Problems problems) {
        long price = row.nonNegativeLong(field);
        if (price > ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS) {
            problems.add(row.childPath(field), "must be at most " + ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + " micros per million tokens");
        }
        return price;
    }
}
