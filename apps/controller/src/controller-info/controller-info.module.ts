import { Module } from '@nestjs/common';

import { ApiRootController, ControllerInfoController } from './controller-info.controller.js';

@Module({ controllers: [ApiRootController, ControllerInfoController] })
export class ControllerInfoModule {}
