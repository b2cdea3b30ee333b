// swift-tools-version: 6.0
// node-dist: per-sample adaptive neural ODE training with adjoint gradients,
// on one process or many MPI ranks.
import PackageDescription

let package = Package(
  name: "node-dist",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "node-dist", targets: ["node-dist"]),
    .library(name: "NodeCore", targets: ["NodeCore"]),
    .library(name: "NodeSolvers", targets: ["NodeSolvers"]),
    .library(name: "NodeSensitivity", targets: ["NodeSensitivity"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
  ],
  targets: [
    // C libraries from Debian, through pkg-config.
    .systemLibrary(
      name: "CBLAS",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]
    ),
    .systemLibrary(
      name: "CMPI",
      pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
    ),

    .systemLibrary(
      name: "CZlib",
      pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"])]
    ),

    // Hand-vectorised float kernels (AVX2 + FMA, chosen at run time).
    .target(name: "CNodeKernels"),

    // Tensors, BLAS, kernels, counter-based randomness, safetensors.
    .target(
      name: "NodeCore",
      dependencies: [
        "CBLAS", "CNodeKernels",
        .product(name: "RealModule", package: "swift-numerics"),
      ]
    ),
    // Butcher tableaus, step-size control, the per-sample adaptive integrator.
    .target(
      name: "NodeSolvers",
      dependencies: ["NodeCore"]
    ),
    // Gradients through ODE solves: backsolve adjoint, backprop through the
    // solver, checkpointed adjoint; differentiable fields.
    .target(
      name: "NodeSensitivity",
      dependencies: [
        "NodeCore", "NodeSolvers", .product(name: "RealModule", package: "swift-numerics"),
      ]
    ),
    // Neural-network layers with hand-written vector-Jacobian and Jacobian-vector products.
    .target(
      name: "NodeNN",
      dependencies: ["NodeCore", .product(name: "RealModule", package: "swift-numerics")]
    ),
    // The paper's models: continuous normalizing flows (more to come).
    .target(
      name: "NodeModels",
      dependencies: ["NodeCore", "NodeSolvers", "NodeSensitivity", "NodeNN"]
    ),
    // Training: configs, the distributed sampler, optimizers and schedules,
    // checkpoints, metrics and the trainer that drives them on every rank.
    .target(
      name: "NodeTraining",
      dependencies: [
        "NodeCore", "NodeSolvers", "NodeSensitivity", "NodeNN", "NodeModels", "NodeData",
        "NodeDistributed", "CZlib", .product(name: "RealModule", package: "swift-numerics"),
        .product(name: "Yams", package: "Yams"),
      ]
    ),
    // Data: IDX (MNIST-format) files, two-dimensional toy densities.
    .target(
      name: "NodeData",
      dependencies: ["NodeCore", "CZlib"]
    ),
    // The MPI runtime (the communicator comes with the distributed trainer).
    .target(
      name: "NodeDistributed",
      dependencies: ["CMPI"]
    ),
    // Reference workloads, timing and the solver demo.
    .target(
      name: "NodeBench",
      dependencies: [
        "NodeCore", "NodeSolvers", "NodeSensitivity", "NodeNN", "NodeModels", "NodeData",
        "NodeTraining", "CZlib",
      ],
      resources: [
        .copy("Resources/w3-problem.safetensors"), .copy("Resources/w1-init.safetensors"),
        .copy("Resources/w2-init.safetensors"),
      ]
    ),
    .executableTarget(
      name: "node-dist",
      dependencies: [
        "NodeCore", "NodeSolvers", "NodeSensitivity", "NodeBench", "NodeDistributed",
        "NodeTraining", "NodeModels", "NodeData",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    .testTarget(name: "NodeCoreTests", dependencies: ["NodeCore"]),
    .testTarget(name: "NodeSolversTests", dependencies: ["NodeCore", "NodeSolvers"]),
    .testTarget(
      name: "NodeSensitivityTests", dependencies: ["NodeCore", "NodeSolvers", "NodeSensitivity"]),
    .testTarget(name: "NodeNNTests", dependencies: ["NodeCore", "NodeNN"]),
    .testTarget(
      name: "NodeModelsTests",
      dependencies: [
        "NodeCore", "NodeSolvers", "NodeSensitivity", "NodeNN", "NodeModels", "NodeData",
      ]),
    .testTarget(
      name: "NodeTrainingTests",
      dependencies: [
        "NodeCore", "NodeSolvers", "NodeNN", "NodeModels", "NodeData", "NodeDistributed",
        "NodeTraining",
      ]),
    .testTarget(name: "NodeDataTests", dependencies: ["NodeCore", "NodeData"]),
    // Also runs the built tool (mpirun, training, refusals), writing its input files with NodeCore.
    .testTarget(name: "NodeDistributedTests", dependencies: ["NodeDistributed", "NodeCore"]),
    .testTarget(
      name: "NodeBenchTests",
      dependencies: ["NodeCore", "NodeSolvers", "NodeData", "NodeModels", "NodeBench"]),
  ]
)
