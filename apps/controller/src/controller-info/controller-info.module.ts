import { Module } from '@nestjs/common';

import { ControllerInfoController } from './controller-info.controller.js';

@Module({ controllers: [ControllerInfoController] })
export class ControllerInfoModule {}
