import Foundation
import Testing

@testable import NodeTraining

@Suite struct ConfigReaderTests {
  /// The kinds of optimizer an example config may name.
  enum Optimizer: String, CaseIterable {
    case adam, sgd
  }

  /// The example experiment from the config documentation.
  static let exampleYAML = """
    run: {seed: 0, steps: 1000}
    model: {kind: cnf, width: 64, end_time: 0.5}
    optimizer: {kind: adam, lr: 1.0e-3, betas: [0.9, 0.999]}
    tolerance:
      forward: {kind: constant, rtol: 1e-5, atol: 1e-5}
    """

  /// A reader of `yaml` labelled `run.yaml`.
  func reader(_ yaml: String) throws -> ConfigReader {
    try ConfigReader(yaml: yaml, source: "run.yaml")
  }

  /// Runs `body` expecting a `ConfigError`, and returns it; a failure is
  /// reported at the caller.
  func configError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
  ) throws -> ConfigError {
    try #require(throws: ConfigError.self, sourceLocation: sourceLocation) { try body() }
  }

  /// Every getter reads the example, and reading it all leaves no unknown keys.
  @Test func readsTheExampleWithEveryGetter() throws {
    let config = try reader(
      Self.exampleYAML + "\ndata: {name: moons, sizes: [8, 16], shuffle: true}")
    let root = config.root
    let run = try root.section("run")
    #expect(try run.int("seed", default: nil) == 0)
    #expect(try run.int("steps", default: nil, range: 1...100_000) == 1000)
    let model = try root.section("model")
    #expect(try model.string("kind", default: nil) == "cnf")
    #expect(try model.optionalInt("width") == 64)
    #expect(try model.double("end_time", default: nil, minimum: 0, exclusiveMinimum: true) == 0.5)
    let optimizer = try root.section("optimizer")
    #expect(try optimizer.choice("kind", default: Optimizer.sgd) == .adam)
    #expect(try optimizer.optionalDouble("lr") == 1e-3)
    #expect(try optimizer.doubles("betas", default: nil, minimum: 0, maximum: 1) == [0.9, 0.999])
    let forward = try root.section("tolerance").section("forward")
    #expect(try forward.optionalString("kind") == "constant")
    #expect(try forward.double("rtol", default: nil) == 1e-5)
    #expect(try forward.double("atol", default: nil) == 1e-5)
    let data = try root.section("data")
    #expect(try data.string("name", default: nil) == "moons")
    #expect(try data.ints("sizes", default: nil, range: 1...64) == [8, 16])
    #expect(try data.bool("shuffle", default: false) == true)
    #expect(root.keys == ["run", "model", "optimizer", "tolerance", "data"])
    #expect(optimizer.contains("lr") && !optimizer.contains("momentum"))
    #expect(forward.path == "tolerance.forward")
    try config.checkAllKeysRead()
  }

  /// Missing or null keys take their defaults, or name the missing key.
  @Test func defaultsApplyToMissingAndNullKeys() throws {
    let section = try reader("optimizer: {lr: null, momentum: ~}").root.section("optimizer")
    #expect(try section.double("lr", default: 0.1) == 0.1)
    #expect(try section.optionalDouble("momentum") == nil)
    #expect(try section.int("steps", default: 7) == 7)
    #expect(try section.string("kind", default: "adam") == "adam")
    #expect(try section.choice("kind", default: Optimizer.sgd) == .sgd)
    #expect(try section.bool("nesterov", default: true) == true)
    #expect(try section.doubles("betas", default: [0.9, 0.99]) == [0.9, 0.99])
    #expect(try section.ints("sizes", default: [1]) == [1])
    #expect(try section.optionalInt("warmup") == nil)
    #expect(try section.optionalString("name") == nil)
    #expect(try section.sections("schedule").isEmpty)
    #expect(!section.contains("lr"))
    let error = try configError { _ = try section.double("lr", default: nil, minimum: 0) }
    #expect(error == .missingKey(key: "optimizer.lr", expected: "a number >= 0"))
    #expect(
      error.description == "optimizer.lr is missing and has no default; expected a number >= 0")
  }

  /// Out-of-range values name the full dotted key, the value and the bounds.
  @Test func rangeErrorsNameTheDottedKey() throws {
    let root = try reader(
      """
      run: {steps: 0}
      optimizer: {lr: 0, betas: [0.9, 1.5], momentum: 2}
      """
    ).root
    let optimizer = try root.section("optimizer")
    let lr = try configError {
      _ = try optimizer.double("lr", default: nil, minimum: 0, exclusiveMinimum: true)
    }
    #expect(lr.description == "optimizer.lr = '0' is not allowed; expected a number > 0")
    let steps = try configError {
      _ = try root.section("run").int("steps", default: 1, range: 1...10)
    }
    #expect(
      steps == .invalidValue(key: "run.steps", value: "0", allowed: "an integer from 1 to 10"))
    let betas = try configError {
      _ = try optimizer.doubles(
        "betas", default: nil, minimum: 0, maximum: 1, exclusiveMinimum: false)
    }
    #expect(
      betas.description
        == "optimizer.betas[1] = '1.5' is not allowed; expected a number from 0 to 1")
    let momentum = try configError {
      _ = try optimizer.optionalDouble("momentum", minimum: 0, maximum: 1, exclusiveMinimum: true)
    }
    #expect(momentum.description.hasSuffix("expected a number > 0 and <= 1"))
    let positive = try configError {
      _ = try root.section("run").int("steps", default: nil, range: 1...Int.max)
    }
    #expect(positive.description == "run.steps = '0' is not allowed; expected an integer >= 1")
  }

  /// Exponent forms without a dot, which YAML 1.1 reads as strings, are numbers.
  @Test func parsesScientificNotation() throws {
    let section = try reader("a: 1e-5\nb: 3E+2\nc: -2.5e-3\nd: 1_000\ne: .5\nf: 7").root
    #expect(try section.double("a", default: nil) == 1e-5)
    #expect(try section.double("b", default: nil) == 300)
    #expect(try section.double("c", default: nil) == -2.5e-3)
    #expect(try section.int("d", default: nil) == 1000)
    #expect(try section.double("e", default: nil) == 0.5)
    #expect(try section.double("f", default: nil) == 7)
  }

  /// Values of the wrong type are rejected with what is allowed.
  @Test func rejectsValuesOfTheWrongType() throws {
    let root = try reader(
      """
      width: 2.5
      flag: yes
      lr: "0.001"
      bad: abc
      big: .inf
      huge: 1e300
      tiny: 1e-300
      kind: adamw
      name: [a, b]
      nested: 3
      list: [{until: 1}, 2]
      betas: 0.9
      """
    ).root
    let cases: [(() throws -> Void, ConfigError)] = [
      (
        { _ = try root.int("width", default: nil) },
        .invalidValue(key: "width", value: "2.5", allowed: "an integer")
      ),
      (
        { _ = try root.bool("flag", default: nil) },
        .invalidValue(key: "flag", value: "yes", allowed: "true or false")
      ),
      (
        { _ = try root.double("lr", default: nil) },
        .invalidValue(key: "lr", value: "\"0.001\"", allowed: "a number")
      ),
      (
        { _ = try root.double("bad", default: nil, minimum: 0, exclusiveMinimum: true) },
        .invalidValue(key: "bad", value: "abc", allowed: "a number > 0")
      ),
      (
        { _ = try root.double("big", default: nil) },
        .invalidValue(key: "big", value: ".inf", allowed: "a number")
      ),
      // Finite in Double, but infinite or zero in the models' 32-bit floats.
      (
        { _ = try root.double("huge", default: nil, minimum: 0, exclusiveMinimum: true) },
        .invalidValue(
          key: "huge", value: "1e300",
          allowed: "a number > 0, and 0 or of magnitude 1.2e-38 to 3.4e38 (32-bit float)")
      ),
      (
        { _ = try root.double("tiny", default: nil) },
        .invalidValue(
          key: "tiny", value: "1e-300",
          allowed: "a number, and 0 or of magnitude 1.2e-38 to 3.4e38 (32-bit float)")
      ),
      (
        { _ = try root.choice("kind", default: Optimizer.adam) },
        .invalidValue(key: "kind", value: "adamw", allowed: "one of adam, sgd")
      ),
      (
        { _ = try root.string("name", default: nil) },
        .invalidValue(key: "name", value: "[a, b]", allowed: "a string")
      ),
      (
        { _ = try root.section("nested") },
        .invalidValue(key: "nested", value: "3", allowed: "a mapping of keys to values")
      ),
      (
        { _ = try root.sections("list") },
        .invalidValue(key: "list[1]", value: "2", allowed: "a mapping of keys to values")
      ),
      (
        { _ = try root.doubles("betas", default: nil) },
        .invalidValue(key: "betas", value: "0.9", allowed: "a list of numbers")
      ),
    ]
    for (body, expected) in cases {
      #expect(try configError(body) == expected)
    }
    #expect(try root.double("big", default: nil, allowNonFinite: true) == .infinity)
  }

  /// A top-level typo names the file and lists the keys the program asked for.
  @Test func reportsAnUnknownTopLevelKey() throws {
    let config = try reader(
      Self.exampleYAML.replacingOccurrences(of: "optimizer:", with: "optimiser:"))
    for key in ["model", "optimizer", "run", "tolerance"] { _ = try config.root.section(key) }
    let error = try configError { try config.checkAllKeysRead() }
    #expect(
      error
        == .unknownKeys(
          source: "run.yaml", path: "", keys: ["optimiser"],
          allowed: ["model", "optimizer", "run", "tolerance"]))
    #expect(
      error.description
        == "unknown key 'optimiser' in 'run.yaml' (top level); allowed: model, optimizer, run, tolerance"
    )
  }

  /// Unread keys deep in the document, or in a list of sections, are found
  /// in document order; keys read but absent still count as allowed.
  @Test func reportsUnknownNestedKeysInDocumentOrder() throws {
    let yaml = """
      optimizer: {kind: adam, lrr: 0.1, beta: 0.9}
      tolerance:
        forward:
          schedule: [{until: 10, rtol: 1e-3}, {until: 20, rtoll: 1e-4}]
      """
    let config = try reader(yaml)
    let optimizer = try config.root.section("optimizer")
    _ = try optimizer.string("kind", default: nil)
    _ = try optimizer.double("lr", default: 0.001)
    _ = try optimizer.doubles("betas", default: [0.9, 0.999])
    let forward = try config.root.section("tolerance").section("forward")
    for step in try forward.sections("schedule") {
      _ = try step.int("until", default: nil)
      _ = try step.optionalDouble("rtol")
    }
    let first = try configError { try config.checkAllKeysRead() }
    #expect(
      first
        == .unknownKeys(
          source: "run.yaml", path: "optimizer", keys: ["lrr", "beta"],
          allowed: ["betas", "kind", "lr"]))
    _ = try optimizer.double("lrr", default: nil)
    _ = try optimizer.double("beta", default: nil)
    let second = try configError { try config.checkAllKeysRead() }
    #expect(
      second.description
        == "unknown key 'rtoll' in 'run.yaml' (under 'tolerance.forward.schedule[1]'); allowed: rtol, until"
    )
  }

  /// Overrides add keys, create intermediate mappings and take flow values.
  @Test func appliesOverrides() throws {
    let config = try reader(Self.exampleYAML)
    let assignments = [
      "optimizer.lr=3e-4", "optimizer.betas=[0.8, 0.9]", "model.kind = moons",
      "schedule.lr.decay={kind: cosine, warmup: 5}", "run.resume=true", "data.name=null",
    ]
    for assignment in assignments { try config.applyOverride(assignment) }
    #expect(config.overrides == assignments)
    let root = config.root
    let optimizer = try root.section("optimizer")
    #expect(try optimizer.double("lr", default: nil) == 3e-4)
    #expect(try optimizer.doubles("betas", default: nil) == [0.8, 0.9])
    #expect(try root.section("model").string("kind", default: nil) == "moons")
    let decay = try root.section("schedule").section("lr").section("decay")
    #expect(try decay.string("kind", default: nil) == "cosine")
    #expect(try decay.int("warmup", default: nil) == 5)
    #expect(try root.section("run").bool("resume", default: false) == true)
    #expect(try root.section("data").optionalString("name") == nil)
    #expect(try root.section("run").int("steps", default: nil) == 1000)
  }

  /// Quoted keys are found by their text, and an override replaces them in place.
  @Test func readsQuotedKeys() throws {
    let config = try reader(#"{"lr": 0.1, 'kind': "adam", "true": 1}"#)
    try config.applyOverride("lr=0.2")
    let root = config.root
    #expect(root.keys == ["lr", "kind", "true"])
    #expect(try root.double("lr", default: nil) == 0.2)
    #expect(try root.choice("kind", default: Optimizer.sgd) == .adam)
    #expect(try root.int("true", default: nil) == 1)
    try config.checkAllKeysRead()
  }

  /// Malformed overrides, and overrides after reading began, are refused.
  @Test func rejectsMalformedOverrides() throws {
    let config = try reader(Self.exampleYAML)
    let reasons = [
      "optimizer.lr": "expected key=value, for example optimizer.lr=3e-4",
      "=3": "the key before '=' is empty",
      "optimizer..lr=3": "the key 'optimizer..lr' has an empty part",
      "model.width=": "the value after '=' is empty; write null to use the key's default",
      "model.width.inner=3": "'model.width' holds '64', not a mapping of keys to values",
      "model=kind: cnf":
        "the value must be a scalar or a flow collection such as [1, 2] or {kind: cosine}",
      "model.width=[1, 2":
        "the value is not valid YAML: while parsing a flow sequence, did not find expected ',' or ']'",
    ]
    for (text, reason) in reasons {
      let error = try configError { try config.applyOverride(text) }
      #expect(error == .invalidOverride(text: text, reason: reason))
    }
    #expect(config.overrides.isEmpty)
    _ = config.root
    let late = try configError { try config.applyOverride("run.seed=1") }
    #expect(
      late
        == .invalidOverride(
          text: "run.seed=1", reason: "overrides must be applied before the config is read"))
  }

  /// A typo in an override is blamed on the override, not on the file.
  @Test func reportsAnUnknownKeyFromAnOverride() throws {
    let config = try reader("optimizer: {lr: 0.1}")
    try config.applyOverride("optimizer.lrr=0.2")
    _ = try config.root.section("optimizer").double("lr", default: nil)
    let error = try configError { try config.checkAllKeysRead() }
    #expect(
      error.description
        == "unknown key 'lrr' in '--set optimizer.lrr=0.2' (under 'optimizer'); allowed: lr")
  }

  /// Unparseable YAML and non-mapping documents are syntax errors with a position.
  @Test func reportsSyntaxErrors() throws {
    let broken = try configError { _ = try reader("run: {seed: 0\nmodel: [1, 2]") }
    guard case .syntax(let source, let message) = broken else {
      Issue.record("expected a syntax error, got \(broken)")
      return
    }
    #expect(source == "run.yaml" && message.hasPrefix("line 2, column"))
    let list = try configError { _ = try reader("- 1\n- 2") }
    #expect(
      list
        == .syntax(
          source: "run.yaml",
          message: "the top level must be a mapping of keys to values, not '[1, 2]'"))
    let duplicate = try configError { _ = try reader("lr: 1\nlr: 2") }
    #expect(
      duplicate == .syntax(source: "run.yaml", message: "line 1, column 1: duplicate key 'lr'"))
  }

  /// The resolved YAML reads back to the same values, overrides included.
  @Test func resolvedYAMLRoundTrips() throws {
    let config = try reader(Self.exampleYAML)
    try config.applyOverride("optimizer.lr=3e-4")
    try config.applyOverride("data={name: moons, sizes: [1, 2]}")
    try config.applyOverride("note='1e-5'")
    let copy = try ConfigReader(yaml: config.resolvedYAML, source: "resolved.yaml")
    #expect(copy.resolvedYAML == config.resolvedYAML)
    #expect(try copy.root.section("optimizer").double("lr", default: nil) == 3e-4)
    #expect(
      try copy.root.section("tolerance").section("forward").double("rtol", default: nil) == 1e-5)
    #expect(try copy.root.section("data").ints("sizes", default: nil) == [1, 2])
    #expect(try copy.root.string("note", default: nil) == "1e-5")
    #expect(copy.root.keys == ["run", "model", "optimizer", "tolerance", "data", "note"])
    #expect(copy.document == config.document)
  }

  /// An empty (or comment-only) document is an empty mapping.
  @Test func readsAnEmptyDocument() throws {
    for yaml in ["", "# nothing yet\n", "~"] {
      let config = try reader(yaml)
      #expect(config.root.keys.isEmpty)
      #expect(try config.root.section("run").int("steps", default: 10) == 10)
      try config.checkAllKeysRead()
      #expect(try ConfigReader(yaml: config.resolvedYAML, source: "again").root.keys.isEmpty)
    }
  }

  /// Files are read from disk; a missing file is an error naming its path.
  @Test func readsFiles() throws {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("config-reader-\(UUID().uuidString).yaml")
    try Self.exampleYAML.write(to: url, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: url) }
    let config = try ConfigReader(contentsOf: url)
    #expect(config.source == url.path)
    #expect(try config.root.section("run").int("steps", default: nil) == 1000)
    let missing = url.appendingPathExtension("missing")
    let error = try configError { _ = try ConfigReader(contentsOf: missing) }
    #expect(error == .unreadableFile(path: missing.path, reason: "no such file"))
    #expect(error.description.contains(missing.path))
  }
}
