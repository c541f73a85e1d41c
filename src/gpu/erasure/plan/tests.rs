use super::*;
use zg_systems::erasure::program;

/// Parameter kinds of `kernel` as `assets/cuda/reed_solomon.cu` declares them.
fn declared(kernel: Kernel) -> Vec<ArgKind> {
    let source = super::super::KERNEL_SOURCE;
    let head = format!("__global__ void {}(", kernel.name());
    let start = source.find(&head).unwrap_or_else(|| panic!("{} is not in the source", kernel.name())) + head.len();
    let end = start + source[start..].find(')').expect("a closing parenthesis");
    source[start..end]
        .split(',')
        .map(|parameter| {
            let words: Vec<&str> = parameter.split_whitespace().collect();
            match () {
                _ if parameter.contains('*') => ArgKind::Pointer,
                _ if words.contains(&"u32") => ArgKind::U32,
                _ if words.contains(&"u64") => ArgKind::U64,
                _ => panic!("{}: parameter {parameter:?} of an unknown type", kernel.name()),
            }
        })
        .collect()
}

#[test]
fn each_kernel_sits_at_its_own_index_in_all() {
    for (index, kernel) in Kernel::ALL.into_iter().enumerate() {
        assert_eq!(kernel as usize, index, "{}", kernel.name());
    }
}

#[test]
fn each_kernels_signature_is_the_one_its_source_declares() {
    for kernel in Kernel::ALL {
        assert_eq!(kernel.signature(), declared(kernel).as_slice(), "{}", kernel.name());
    }
}

/// Every launch passes its kernel's parameters in kind and number, in 256-thread blocks, no
/// grid past the device's bounds, and only buffers the batch and program have.
fn check(program: &Program, arrays: &ProgramArrays, codewords: usize, plan: &[KernelLaunch]) {
    let layout = BatchLayout::new(program, arrays.fused.is_some(), codewords);
    for launch in plan {
        let kinds: Vec<ArgKind> = launch.args.iter().map(|a| a.kind()).collect();
        assert_eq!(kinds, launch.kernel.signature(), "{launch:?}");
        assert_eq!(launch.block, THREADS);
        let (x, y, z) = launch.grid;
        assert!(x >= 1 && x <= i32::MAX as u32 && y == 1 && z >= 1 && z as usize <= MAX_LAUNCH_CODEWORDS, "{launch:?}");
        for arg in &launch.args {
            if let Arg::Buffer(buffer) = arg {
                let present = match buffer {
                    Buffer::Work(n) => usize::from(*n) < layout.work.len(),
                    Buffer::Factors(step) => arrays.factors.get(*step).is_some_and(Option::is_some),
                    Buffer::Code | Buffer::FusedTables => arrays.fused.is_some(),
                    _ => true,
                };
                assert!(present, "{launch:?} names {buffer}, which the run does not have");
            }
        }
    }
}

#[test]
fn a_batch_past_one_grid_is_launched_in_slices_that_cover_each_codeword_once() {
    let encode = program::encode(8, 4, 64).expect("supported");
    let arrays = ProgramArrays::new(&encode, false).expect("arrays");
    let codewords = 2 * MAX_LAUNCH_CODEWORDS + 19;
    let plan = launches(&encode, &arrays, codewords, MAX_LAUNCH_CODEWORDS).expect("plan");
    check(&encode, &arrays, codewords, &plan);
    let one = launches(&encode, &arrays, 1, MAX_LAUNCH_CODEWORDS).expect("plan");
    assert_eq!(plan.len(), 3 * one.len(), "each step in three slices");
    for (step, slices) in one.iter().zip(plan.chunks(3)) {
        let mut next = 0u64;
        for slice in slices {
            assert_eq!(slice.kernel, step.kernel);
            assert_eq!(slice.args.iter().filter(|a| a.kind() == ArgKind::U64).count(), 1);
            let first = slice.args.iter().find_map(|a| if let Arg::U64(v) = a { Some(*v) } else { None }).expect("first codeword");
            assert_eq!(first, next, "{slice:?}");
            next += u64::from(slice.grid.2);
        }
        assert_eq!(next, codewords as u64);
    }
}

#[test]
fn production_shapes_plan_within_the_devices_bounds() {
    let k = zg_systems::da::pieces::MAX_K as usize;
    let shapes = [(k, k, 64, 3), (257, 257, 512, 2), (2, 2, 128 << 10, 64), (128, 128, 512, 512), (1, 1, 2, 1)];
    for (k, m, bytes, codewords) in shapes {
        let encode = program::encode(k, m, bytes).expect("supported");
        let present: Vec<bool> = (0..k + m).map(|i| i >= k.min(m)).collect();
        let decode = program::decode(&present[..k], &present[k..], bytes).expect("enough");
        for program in [&encode, &decode] {
            for fuse in [false, true] {
                let arrays = ProgramArrays::new(program, fuse).expect("arrays");
                let plan = launches(program, &arrays, codewords, MAX_LAUNCH_CODEWORDS).expect("plan");
                check(program, &arrays, codewords, &plan);
                assert_eq!(plan.iter().any(|l| l.kernel == Kernel::Program), arrays.fused.is_some());
            }
        }
    }
    let large = program::encode(k, k, 64).expect("supported");
    assert!(ProgramArrays::new(&large, true).expect("arrays").fused.is_none(), "k = {k} is past the fused kernel: the step path");
}

#[test]
fn a_decode_with_a_derivative_alternates_its_two_work_arrays() {
    let present = [false, true, true, true, true, false];
    let decode = program::decode(&present[..4], &present[4..], 64).expect("enough");
    let arrays = ProgramArrays::new(&decode, false).expect("arrays");
    assert_eq!(BatchLayout::new(&decode, false, 5).work.len(), 2);
    let plan = launches(&decode, &arrays, 5, MAX_LAUNCH_CODEWORDS).expect("plan");
    check(&decode, &arrays, 5, &plan);
    let derivative = plan.iter().find(|l| l.kernel == Kernel::Derivative).expect("a derivative");
    assert_ne!(derivative.args[0], derivative.args[1], "it writes the other work array");
}

#[test]
fn impossible_runs_are_refused() {
    let encode = program::encode(4, 2, 64).expect("supported");
    let arrays = ProgramArrays::new(&encode, false).expect("arrays");
    assert!(launches(&encode, &arrays, 0, MAX_LAUNCH_CODEWORDS).is_err());
    assert!(launches(&encode, &arrays, 3, 0).is_err());
    assert!(launches(&encode, &arrays, 3, MAX_LAUNCH_CODEWORDS + 1).is_err());
    let mut odd = encode.clone();
    odd.shard_bytes = 63;
    assert!(ProgramArrays::new(&odd, false).is_err());
}
