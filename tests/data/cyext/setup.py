from Cython.Build import cythonize
from setuptools import setup

setup(ext_modules=cythonize(["cyext/_fast.pyx"], language_level=3))
