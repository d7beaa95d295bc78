from cost_model.blas_kernels import pin_openblas_kernels

pin_openblas_kernels()  # before anything here imports numpy (cost_model/blas_kernels.py)
