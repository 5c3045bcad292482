package dev.tollgate.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
        Map<String, List<Integer>> indexesByModel = new LinkedHashMap<>();
        List<JsonNode> items = root.nonEmptyList("models");
        List<ModelRow> rowAtIndex = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            ModelRow row = readRow(YamlObject.of(items.get(i), "models[" + i + "]", problems), problems);
            rowAtIndex.add(row);
            if (row != null) {
                rows.add(row);
                indexesByModel.computeIfAbsent(row.provider() + "/" + row.model(), k -> new ArrayList<>()).add(i);
            }
        }
        for (List<Integer> indexes : indexesByModel.values()) {
            effectivePeriodsFollowOneAnother(indexes, rowAtIndex, problems);
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
        List<TimeWindow> timeWindows = timeWindows(row, problems);
        LocalDate retiredOn = row.has("retiredOn") ? row.date("retiredOn") : null;
        java.util.Map<String, Integer> serviceTiers = serviceTiers(row, problems);
        java.util.Map<TokenClass, Long> tokenClassPrices = tokenClassPrices(row, problems);
        java.util.Map<String, ServerToolFee> serverToolFees = serverToolFees(row, problems);
        long requestFeeMicros = row.optionalNonNegativeLong("requestFeeMicros", 0);
        if (requestFeeMicros > ServerToolFee.MAX_MICROS_PER_CALL) {
            problems.add(row.childPath("requestFeeMicros"), "must be at most " + ServerToolFee.MAX_MICROS_PER_CALL + " micros");
        }
        java.util.Map<String, Long> unitPrices = unitPrices(row, problems);
        for (int i = 0; i < tiers.size(); i++) {
            if (!tiers.get(i).tokenClassPrices().keySet().equals(tokenClassPrices.keySet())) {
                problems.add(row.childPath("tiers") + "[" + i + "]." + TOKEN_CLASSES, "must reprice exactly the token classes the row prices apart "
                        + names(tokenClassPrices.keySet()) + ", found " + names(tiers.get(i).tokenClassPrices().keySet())
                        + ": a class left out would keep its short-prompt price in a long prompt");
            }
        }
        Instant effectiveFrom = row.has("effectiveFrom") ? row.instant("effectiveFrom") : null;
        Instant effectiveUntil = row.has("effectiveUntil") ? row.instant("effectiveUntil") : null;
        row.rejectUnknown();

        if (effectiveFrom != null && effectiveUntil != null && !effectiveUntil.isAfter(effectiveFrom)) {
            problems.add(row.childPath("effectiveUntil"), "must be after effectiveFrom (" + effectiveFrom + "): a price set in force for no time");
        }

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
                && exactInEveryWindow(row, timeWindows, tiers, prices(new long[] {input, cacheRead, cacheWrite, output}, tokenClassPrices), problems)
                ? new ModelRow(provider, model, endpoints, encoding, contextWindowTokens, maxOutputTokens, input, cacheRead, cacheWrite, output, asOf, source,
                tiers, timeWindows, serviceTiers, retiredOn, tokenClassPrices, serverToolFees, requestFeeMicros, unitPrices, effectiveFrom, effectiveUntil)
                : null;
    }

    static final String TOKEN_CLASSES = "tokenClassMicrosPerMillionTokens";

    private static long[] prices(long[] kinds, java.util.Map<TokenClass, Long> classes) {
        long[] all = java.util.Arrays.copyOf(kinds, kinds.length + classes.size());
        int i = kinds.length;
        for (long price : classes.values()) {
            all[i++] = price;
        }
        return all;
    }

    private static String names(java.util.Set<TokenClass> classes) {
        return classes.stream().map(TokenClass::yamlName).sorted().toList().toString();
    }

    /**
     * {@code tokenClassMicrosPerMillionTokens}: optional, a mapping of a {@linkplain TokenClass token class}
     * ({@code cache_write_1h}, {@code audio_input}...) to its price; a name that is no token class is refused, so a
     * misspelt class is never billed at its kind's price unnoticed.
     */
    private static java.util.Map<TokenClass, Long> tokenClassPrices(YamlObject row, Problems problems) {
        java.util.Map<TokenClass, Long> prices = new java.util.EnumMap<>(TokenClass.class);
        YamlObject classes = row.object(TOKEN_CLASSES, false);
        if (classes == null) {
            return prices;
        }
        for (String name : classes.fieldNames()) {
            TokenClass tokenClass = TokenClass.parse(name);
            if (tokenClass == null) {
                problems.add(classes.childPath(name), "unknown token class; expected one of "
                        + java.util.Arrays.stream(TokenClass.values()).map(TokenClass::yamlName).toList()
                        + " (the kinds input, cache read, cache write and output have fields of their own)");
                continue;
            }
            int before = problems.lines().size();
            long price = price(classes, name, problems);
            if (problems.lines().size() == before) {
                prices.put(tokenClass, price);
            }
        }
        return prices;
    }

    /**
     * {@code serverToolFees}: optional, a server tool's name as the provider's usage reports it ({@code web_search}) to
     * its {@code microsPerCall} and {@code maxCallsPerRequest} (the calls a reservation covers when the request sets no
     * {@code max_uses}).
     */
    private static java.util.Map<String, ServerToolFee> serverToolFees(YamlObject row, Problems problems) {
        java.util.Map<String, ServerToolFee> fees = new java.util.LinkedHashMap<>();
        YamlObject tools = row.object("serverToolFees", false);
        if (tools == null) {
            return fees;
        }
        for (String name : tools.fieldNames()) {
            if (!ModelRow.isCountedName(name) || name.contains(".")) {
                problems.add(tools.childPath(name), "not a server tool's name: expected lower case letters, digits and underscores (web_search)");
                continue;
            }
            YamlObject fee = tools.object(name, true);
            if (fee == null) {
                continue;
            }
            int before = problems.lines().size();
            long micros = fee.nonNegativeLong("microsPerCall");
            if (micros > ServerToolFee.MAX_MICROS_PER_CALL) {
                problems.add(fee.childPath("microsPerCall"), "must be at most " + ServerToolFee.MAX_MICROS_PER_CALL + " micros");
            }
            long maxCalls = fee.nonNegativeLong("maxCallsPerRequest");
            if (maxCalls == 0 && fee.has("maxCallsPerRequest") || maxCalls > ServerToolFee.MAX_CALLS_PER_REQUEST) {
                problems.add(fee.childPath("maxCallsPerRequest"), "must be 1.." + ServerToolFee.MAX_CALLS_PER_REQUEST);
            }
            fee.rejectUnknown();
            if (problems.lines().size() == before) {
                fees.put(name, new ServerToolFee(micros, maxCalls));
            }
        }
        return fees;
    }

    /**
     * {@code unitPricesMicros}: optional, a unit's name ({@code image.1024x1024.high}, {@code audio_second}) to its price
     * in whole micro-units per unit, for an endpoint metered in units rather than tokens.
     */
    private static java.util.Map<String, Long> unitPrices(YamlObject row, Problems problems) {
        java.util.Map<String, Long> prices = new java.util.LinkedHashMap<>();
        YamlObject units = row.object("unitPricesMicros", false);
        if (units == null) {
            return prices;
        }
        if (units.fieldNames().size() > 64) {
            problems.add(row.childPath("unitPricesMicros"), "at most 64 units");
        }
        for (String name : units.fieldNames()) {
            if (!ModelRow.isCountedName(name)) {
                problems.add(units.childPath(name), "not a unit's name: expected lower case letters, digits, underscores and dots (image.1024x1024.high)");
                continue;
            }
            int before = problems.lines().size();
            long micros = units.nonNegativeLong(name);
            if (micros > ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS) {
                problems.add(units.childPath(name), "must be at most " + ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS + " micros");
            }
            if (problems.lines().size() == before) {
                prices.put(name, micros);
            }
        }
        return prices;
    }

    /**
     * The rows of one (provider, model), at {@code indexes} of the file, are price sets that follow one another in time:
     * sorted by {@code effectiveFrom}, at most the first has none (in force since always), none overlaps the next, and
     * none ends before the next begins (a row without {@code effectiveUntil} ends where the next begins). A gap would
     * leave a request admitted in it with no price, and an overlap with two.
     */
    private static void effectivePeriodsFollowOneAnother(List<Integer> indexes, List<ModelRow> rowAtIndex, Problems problems) {
        if (indexes.size() < 2) {
            return;
        }
        List<Integer> byFrom = new ArrayList<>(indexes);
        byFrom.sort(Comparator.comparing((Integer i) -> rowAtIndex.get(i).effectiveFrom(), Comparator.nullsFirst(Comparator.naturalOrder()))
                .thenComparing(i -> i));
        for (int k = 1; k < byFrom.size(); k++) {
            int earlierIndex = byFrom.get(k - 1);
            int laterIndex = byFrom.get(k);
            ModelRow earlier = rowAtIndex.get(earlierIndex);
            ModelRow later = rowAtIndex.get(laterIndex);
            String both = "models[" + earlierIndex + "] " + period(earlier) + " and models[" + laterIndex + "] " + period(later);
            if (later.effectiveFrom() == null) {
                problems.add("models[" + laterIndex + "]", "duplicate model row (" + later.provider() + ", " + later.model() + "): " + both
                        + " both have no effectiveFrom; only the first price set of a model may be in force since always");
            } else if (earlier.effectiveUntil() == null ? later.effectiveFrom().equals(earlier.effectiveFrom())
                    : earlier.effectiveUntil().isAfter(later.effectiveFrom())) {
                problems.add("models[" + laterIndex + "]", "overlapping effective periods of (" + later.provider() + ", " + later.model() + "): "
                        + both + "; a request must have exactly one price");
            } else if (earlier.effectiveUntil() != null && earlier.effectiveUntil().isBefore(later.effectiveFrom())) {
                problems.add("models[" + laterIndex + "]", "a gap in the effective periods of (" + later.provider() + ", " + later.model() + "): "
                        + both + " leave " + earlier.effectiveUntil() + " to " + later.effectiveFrom() + " unpriced; end the earlier where the later begins");
            }
        }
    }

    private static String period(ModelRow row) {
        return "[" + (row.effectiveFrom() == null ? "since always" : row.effectiveFrom()) + ", "
                + (row.effectiveUntil() == null ? "until replaced" : row.effectiveUntil()) + ")";
    }

    /**
     * {@code serviceTiers}: optional, a mapping of a tier's name exactly as the provider's response reports it (lower
     * case letters, digits, underscores) to the percentage of the cost it bills, 1 to 1000. No price needs to be exact
     * at a percentage here: it multiplies the request's exact cost before the one rounding.
     */
    private static java.util.Map<String, Integer> serviceTiers(YamlObject row, Problems problems) {
        java.util.Map<String, Integer> serviceTiers = new java.util.LinkedHashMap<>();
        YamlObject tiers = row.object("serviceTiers", false);
        if (tiers == null) {
            return serviceTiers;
        }
        for (String name : tiers.fieldNames()) {
            if (!ModelRow.isServiceTierName(name)) {
                problems.add(tiers.childPath(name), "not a service tier's name: expected lower case letters, digits and underscores"
                        + " as the provider's response writes it (flex, priority, standard)");
                continue;
            }
            int before = problems.lines().size();
            int percent = tiers.boundedInt(name, 1, 1_000);
            if (problems.lines().size() == before) {
                serviceTiers.put(name, percent);
            }
        }
        return serviceTiers;
    }

    private static final java.util.Map<String, java.time.DayOfWeek> DAYS = java.util.Map.of("mon", java.time.DayOfWeek.MONDAY,
            "tue", java.time.DayOfWeek.TUESDAY, "wed", java.time.DayOfWeek.WEDNESDAY, "thu", java.time.DayOfWeek.THURSDAY,
            "fri", java.time.DayOfWeek.FRIDAY, "sat", java.time.DayOfWeek.SATURDAY, "sun", java.time.DayOfWeek.SUNDAY);
    private static final java.util.regex.Pattern TIME_OF_DAY = java.util.regex.Pattern.compile("([01][0-9]|2[0-4]):([0-5][0-9])");

    /**
     * {@code timeWindows}: optional, each {@code timeZone}, {@code days} (optional, every day), {@code from} and
     * {@code until} ("HH:MM", quoted; until may be "24:00" and before from for a window past midnight) and
     * {@code percent}; one time zone per row, and no two windows of a row covering the same minute.
     */
    private static List<TimeWindow> timeWindows(YamlObject row, Problems problems) {
        List<TimeWindow> windows = new ArrayList<>();
        List<JsonNode> nodes = row.list("timeWindows", false);
        boolean[] covered = new boolean[7 * TimeWindow.MINUTES_PER_DAY];
        java.time.ZoneId rowZone = null;
        for (int i = 0; i < nodes.size(); i++) {
            YamlObject window = YamlObject.of(nodes.get(i), row.childPath("timeWindows") + "[" + i + "]", problems);
            if (window == null) {
                continue;
            }
            int before = problems.lines().size();
            java.time.ZoneId zone = null;
            String zoneName = window.text("timeZone");
            if (zoneName != null) {
                try {
                    zone = java.time.ZoneId.of(zoneName);
                } catch (java.time.DateTimeException e) {
                    problems.add(window.childPath("timeZone"), "not a time zone: \"" + zoneName + "\" (a region like Asia/Shanghai, or UTC)");
                }
            }
            java.util.Set<java.time.DayOfWeek> days = EnumSet.noneOf(java.time.DayOfWeek.class);
            if (window.has("days")) {
                for (JsonNode day : window.list("days", false)) {
                    java.time.DayOfWeek parsed = day.isTextual() ? DAYS.get(day.textValue()) : null;
                    if (parsed == null) {
                        problems.add(window.childPath("days"), "expected days as mon, tue, wed, thu, fri, sat, sun" + YamlObject.found(day));
                    } else {
                        days.add(parsed);
                    }
                }
            } else {
                days = EnumSet.allOf(java.time.DayOfWeek.class);
            }
            int from = minuteOfDay(window, "from", false, problems);
            int until = minuteOfDay(window, "until", true, problems);
            int percent = window.boundedInt("percent", 1, 1_000);
            window.rejectUnknown();
            if (from >= 0 && until >= 0 && from == until) {
                problems.add(window.childPath("until"), "must differ from from: a window of no time, or of the whole day (write 00:00 to 24:00)");
            }
            if (zone != null && rowZone != null && !zone.equals(rowZone)) {
                problems.add(window.childPath("timeZone"), "must be the row's other windows' (" + rowZone + "): one time zone per row");
            }
            if (problems.lines().size() != before) {
                continue;
            }
            rowZone = zone;
            TimeWindow parsed = new TimeWindow(zone, days, from, until, percent);
            boolean[] minutes = parsed.weekMinutes();
            for (int m = 0; m < minutes.length; m++) {
                if (minutes[m] && covered[m]) {
                    String day = java.time.DayOfWeek.of(m / TimeWindow.MINUTES_PER_DAY + 1).name().substring(0, 3).toLowerCase(java.util.Locale.ROOT);
                    problems.add(window.childPath("from"), "overlaps an earlier window of this row (" + day + " "
                            + String.format(java.util.Locale.ROOT, "%02d:%02d", m % TimeWindow.MINUTES_PER_DAY / 60, m % 60) + ")");
                    break;
                }
                covered[m] |= minutes[m];
            }
            windows.add(parsed);
        }
        return windows;
    }

    /** "HH:MM" as a minute of the day; -1 (and a problem) when it is not one. */
    private static int minuteOfDay(YamlObject window, String field, boolean end, Problems problems) {
        String text = window.text(field);
        if (text == null) {
            return -1;
        }
        java.util.regex.Matcher matcher = TIME_OF_DAY.matcher(text);
        int minute = matcher.matches() ? Integer.parseInt(matcher.group(1)) * 60 + Integer.parseInt(matcher.group(2)) : -1;
        if (minute < 0 || minute > TimeWindow.MINUTES_PER_DAY || minute == TimeWindow.MINUTES_PER_DAY && !end) {
            problems.add(window.childPath(field), "expected a time of day as \"HH:MM\" (00:00 to " + (end ? "24:00" : "23:59") + "), found \"" + text + "\"");
            return -1;
        }
        return minute;
    }

    /** Every price of the row and its tiers at every window's percentage is a whole micro-unit and within the price limit. */
    private static boolean exactInEveryWindow(YamlObject row, List<TimeWindow> windows, List<PriceTier> tiers, long[] prices, Problems problems) {
        List<Long> all = new ArrayList<>();
        for (long price : prices) {
            all.add(price);
        }
        for (PriceTier tier : tiers) {
            all.addAll(List.of(tier.inputMicrosPerMillionTokens(), tier.cacheReadMicrosPerMillionTokens(), tier.cacheWriteMicrosPerMillionTokens(),
                    tier.outputMicrosPerMillionTokens()));
            all.addAll(tier.tokenClassPrices().values());
        }
        boolean exact = true;
        for (int i = 0; i < windows.size(); i++) {
            int percent = windows.get(i).percent();
            for (long price : all) {
                if (price * percent % 100 != 0 || price * percent / 100 > ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS) {
                    problems.add(row.childPath("timeWindows") + "[" + i + "].percent", percent + "% of the price " + price
                            + " is not a whole number of micros per million tokens within " + ModelRow.MAX_PRICE_MICROS_PER_MILLION_TOKENS
                            + ": Tollgate does not round prices, only a request's cost");
                    exact = false;
                    break;
                }
            }
        }
        return exact;
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
                    price(tier, "outputMicrosPerMillionTokens", problems), tokenClassPrices(tier, problems));
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
