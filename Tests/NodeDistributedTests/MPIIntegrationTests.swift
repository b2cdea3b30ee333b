import Foundation
import Testing

/// Real `mpirun -n 2` of the node-dist tool built beside these tests.
@Suite struct MPIIntegrationTests {
  /// The node-dist executable next to the test bundle (swift build builds both).
  static var tool: URL? {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let url = directory.appendingPathComponent("node-dist")
    return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
  }

  static var mpirun: URL? {
    ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].map(URL.init(fileURLWithPath:)).first {
      FileManager.default.isExecutableFile(atPath: $0.path)
    }
  }

  /// Runs `arguments` under `mpirun -n ranks` (as root if need be, oversubscribed,
  /// stdin closed, waiting ranks yielding the core, a 300 s job limit: the
  /// ranks share 2 cores with the other tests) and returns its exit status and output.
  static func launch(ranks: Int, _ arguments: [String]) throws -> (Int32, String) {
    try run(
      mpirun!,
      ["-n", "\(ranks)", "--oversubscribe", "--stdin", "none", "--timeout", "300", tool!.path]
        + arguments,
      environment: [
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_mpi_yield_when_idle": "1",
      ])
  }

  /// Runs `executable` with one BLAS thread, plain output and `environment`
  /// added; its exit status and its output and errors, interleaved.
  static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:])
    throws -> (Int32, String)
  {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment
    merged["OPENBLAS_NUM_THREADS"] = "1"
    merged["NO_COLOR"] = "1"
    merged.merge(environment) { _, new in new }
    process.environment = merged
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
  }

  /// Two MPI ranks agree on every collective's result.
  @Test(.enabled(if: tool != nil && mpirun != nil, "needs mpirun and the built node-dist"))
  func collectivesAgreeAcrossTwoRanks() throws {
    let (status, output) = try Self.launch(ranks: 2, ["info", "--collectives"])
    #expect(status == 0, "mpirun failed: \(output)")
    let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") })
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    #expect(object["size"] as? Int == 2 && object["mpi"] as? Bool == true)
    let received = try #require(object["received"] as? [[Double]])
    // Sums (1 + 2, 0 + 2), maxima (1, −0), rank 1's broadcast 101 — on both ranks.
    #expect(received == [[3, 2, 1, 0, 101], [3, 2, 1, 0, 101]])
    #expect(object["gathered"] as? [Double] == [0, 1])
  }
}
