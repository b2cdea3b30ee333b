import Foundation
import Testing

/// `node-dist train` under a real `mpirun -n 2` (two worker threads per rank)
/// and on three threads against the same command on one rank and thread
/// without MPI: the trained parameters must be bitwise equal (the chunked
/// fixed-order reduction), hence the same held-out result.
@Suite struct TrainingIntegrationTests {
  /// The repository's `configs/`.
  static let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("configs")

  static var available: Bool {
    MPIIntegrationTests.tool != nil && MPIIntegrationTests.mpirun != nil
  }

  /// Runs the tool alone (one local rank) and returns its status and output.
  static func runAlone(_ arguments: [String]) throws -> (Int32, String) {
    try MPIIntegrationTests.run(MPIIntegrationTests.tool!, arguments)
  }

  /// The last JSON line of `output` as a dictionary.
  static func summary(_ output: String) throws -> [String: Any] {
    let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") })
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
  }

  /// Trains `config` with `overrides` alone, alone on three worker threads,
  /// and on two MPI ranks of two threads each; the first and last summaries,
  /// after checking that the threaded run's parameters equal the first's.
  static func trainBothWays(_ config: String, _ overrides: [String]) throws -> (
    [String: Any], [String: Any]
  ) {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent(
      "node-dist-integration-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: base) }
    let arguments =
      ["train", "--config", configs.appendingPathComponent(config).path]
      + overrides.flatMap { ["--set", $0] }
    let (aloneStatus, alone) = try runAlone(
      arguments + ["--run-dir", base.appendingPathComponent("one").path])
    #expect(aloneStatus == 0, "single rank failed: \(alone)")
    let (threadedStatus, threaded) = try runAlone(
      arguments + ["--threads", "3", "--run-dir", base.appendingPathComponent("threads").path])
    #expect(threadedStatus == 0, "single rank on three threads failed: \(threaded)")
    #expect(
      try summary(threaded)["parameters_hash"] as? String
        == (try summary(alone)["parameters_hash"] as? String))
    let (mpiStatus, mpi) = try MPIIntegrationTests.launch(
      ranks: 2,
      arguments + ["--threads", "2", "--run-dir", base.appendingPathComponent("two").path])
    #expect(mpiStatus == 0, "mpirun -n 2 failed: \(mpi)")
    let metrics = base.appendingPathComponent("two/metrics.jsonl")
    #expect(FileManager.default.fileExists(atPath: metrics.path), "no metrics.jsonl from rank 0")
    return (try summary(alone), try summary(mpi))
  }

  @Test(.enabled(if: available, "needs mpirun and the built node-dist"))
  func quickCNFOnTwoRanksEqualsOneRank() throws {
    let (one, two) = try Self.trainBothWays(
      "cnf-moons.yaml",
      [
        "model.width=16", "train.steps=3", "train.batch_size=32", "train.chunks=4",
        "data.test_size=64", "run.eval_every=2", "run.picture=false",
      ])
    #expect(one["ranks"] as? Int == 1 && two["ranks"] as? Int == 2)
    #expect(two["parameters_hash"] as? String == one["parameters_hash"] as? String)
    #expect(two["nll"] as? Double == one["nll"] as? Double)
    #expect(two["nfe_max"] as? Int == one["nfe_max"] as? Int)
  }

  @Test(
    .enabled(
      if: available
        && FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"),
      "needs mpirun, the built node-dist and Fashion-MNIST"))
  func smallODENetOnTwoRanksEqualsOneRank() throws {
    let (one, two) = try Self.trainBothWays(
      "odenet-fashion-quick.yaml",
      [
        "model.width=4", "data.train_size=64", "data.test_size=32", "train.batch_size=16",
        "train.chunks=4", "train.epochs=null", "train.steps=2",
      ])
    #expect(two["parameters_hash"] as? String == one["parameters_hash"] as? String)
    #expect(two["accuracy"] as? Double == one["accuracy"] as? Double)
    #expect(two["steps"] as? Int == 2)
  }

  /// A run killed with SIGKILL after its first checkpoint and resumed ends
  /// with the parameters of a run that was never interrupted.
  @Test(.enabled(if: MPIIntegrationTests.tool != nil, "needs the built node-dist"))
  func killedAndResumedRunEqualsUninterruptedRun() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent(
      "node-dist-kill-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: base) }
    let arguments =
      ["train", "--config", Self.configs.appendingPathComponent("cnf-moons.yaml").path]
      + [
        "model.width=8", "train.steps=40", "train.batch_size=16", "train.chunks=2",
        "data.test_size=32", "run.checkpoint_every=2", "run.picture=false", "run.log_every=1",
      ].flatMap { ["--set", $0] }
    let (status, uninterrupted) = try Self.runAlone(
      arguments + ["--run-dir", base.appendingPathComponent("whole").path])
    #expect(status == 0, "the uninterrupted run failed: \(uninterrupted)")
    try expectResumingAFinishedRunChangesNothing(
      arguments: arguments, directory: base.appendingPathComponent("whole"))

    let killedDirectory = base.appendingPathComponent("killed")
    let process = Process()
    process.executableURL = MPIIntegrationTests.tool!
    process.arguments = arguments + ["--run-dir", killedDirectory.path]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let checkpoints = killedDirectory.appendingPathComponent("checkpoints")
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline && process.isRunning {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
      if names.contains(where: { $0.hasPrefix("step-") }) { break }
      Thread.sleep(forTimeInterval: 0.02)
    }
    let killedMidRun = process.isRunning
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(killedMidRun, "the run finished before it could be killed")

    let (resumedStatus, resumed) = try Self.runAlone(
      arguments + ["--run-dir", killedDirectory.path, "--resume"])
    #expect(resumedStatus == 0, "the resumed run failed: \(resumed)")
    #expect(resumed.contains("resumed from"), "did not resume: \(resumed)")
    // metrics.jsonl: the steps the killed run had logged past its checkpoint
    // were dropped and logged again, once.
    let lines = try String(
      contentsOf: killedDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    let steps = lines.split(separator: "\n").compactMap { line -> Int? in
      guard line.contains("\"kind\":\"train\"") else { return nil }
      return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["step"]
        as? Int
    }
    #expect(steps == Array(1...40), "train lines by step: \(steps)")
    #expect(
      try Self.summary(resumed)["parameters_hash"] as? String
        == (try Self.summary(uninterrupted)["parameters_hash"] as? String))
  }

  /// Resuming a finished run with as many steps or fewer trains nothing,
  /// succeeds, says so, and leaves every file of the run as it was.
  func expectResumingAFinishedRunChangesNothing(arguments: [String], directory: URL) throws {
    func contents() throws -> [String: Data] {
      let paths = FileManager.default.subpaths(atPath: directory.path) ?? []
      var files: [String: Data] = [:]
      for path in paths where path != ".lock" {
        let url = directory.appendingPathComponent(path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory),
          !isDirectory.boolValue
        {
          files[path] = try Data(contentsOf: url)
        }
      }
      return files
    }
    let before = try contents()
    #expect(before.keys.contains("config.yaml") && before.keys.contains("metrics.jsonl"))
    for steps in [40, 20] {
      let (status, output) = try Self.runAlone(
        arguments + ["--set", "train.steps=\(steps)", "--run-dir", directory.path, "--resume"])
      #expect(status == 0, "\(output)")
      #expect(
        output.contains(
          "nothing to train: the checkpoint is at step 40 and this run ends at step \(steps)"),
        "\(output)")
      #expect(try contents() == before, "resuming a finished run changed its files")
    }
  }
}
