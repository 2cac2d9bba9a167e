from setuptools import Extension, setup

setup(ext_modules=[Extension("ownext._native", ["ownext/_native.c"])])
